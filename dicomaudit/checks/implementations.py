"""Importing this module registers every check implementation."""

from dicomaudit.checks import association, echo, find, identity, retrieve, service, services, store, worklist  # noqa: F401
