"""Importing this module registers every check implementation."""

from dicomaudit.checks import association, echo, find, service, store  # noqa: F401
