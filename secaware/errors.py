"""One exception hierarchy, each error knowing where in which input it arose.

A security team fixing a broken file needs the path and the line, so every error carries an
optional Location and prints it (the habit of pySigma's SigmaError).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    path: str
    line: int | None = None

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


class SecawareError(ValueError):
    """Base of every error secaware reports to its user."""

    def __init__(self, message: str, *, source: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return self.message if self.source is None else f"{self.message} in {self.source}"


class IngestError(SecawareError):
    """An input file that cannot be read or parsed as a whole."""


class UnknownFormatError(IngestError):
    """A file whose format could not be recognised from its first lines."""


class StoreError(SecawareError):
    """The store directory is missing, unreadable or not a secaware store."""
