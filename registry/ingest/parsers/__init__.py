"""Parsers: one module per measurement kind, each turning text into `Parsed` records."""

from __future__ import annotations


class ParseError(ValueError):
    """The file as a whole is not what it was claimed to be (wrong format, binary, empty)."""

    def __init__(self, location: str, message: str, line: int | None = None) -> None:
        where = f"{location} line {line}" if line else location
        super().__init__(f"{where}: {message}")
        self.location = location
        self.line = line


class RecordError(ValueError):
    """One record is damaged; the rest of its file still loads."""
