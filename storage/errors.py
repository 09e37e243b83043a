"""Errors of the storage port, so that callers never see a database driver's exceptions."""

from __future__ import annotations


class StorageError(Exception):
    """The storage refused or failed an operation."""


class Duplicate(StorageError):
    """A row with the same unique key exists already (a second binding, a second link)."""


class ConstraintViolation(StorageError):
    """A write broke a rule of the schema other than uniqueness (a reference, a check)."""
