"""Importing this module registers every check implementation."""

from dicomaudit.checks import (  # noqa: F401
    association,
    echo,
    find,
    identity,
    inventory,
    retrieve,
    service,
    services,
    software,
    store,
    tls,
    web,
    worklist,
)
