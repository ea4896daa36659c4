"""Catalogue errors: every failure the repo reports is one of these.

Each carries a short machine code (`error`) and a sentence for people
(`detail`), so the HTTP layer and the console can show them as they are.
"""

from __future__ import annotations


class CatalogueError(Exception):
    error = "database_error"
    status = 500  # the HTTP status an API answering with this error should use

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_dict(self) -> dict[str, str]:
        return {"error": self.error, "detail": self.detail}


class NotFound(CatalogueError):
    """No row with that id or name."""

    error = "not_found"
    status = 404


class Duplicate(CatalogueError):
    """The row would break a unique constraint."""

    error = "duplicate"
    status = 409


class Invalid(CatalogueError):
    """A value the catalogue refuses; `field` names the argument."""

    error = "invalid"
    status = 422

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why

    def to_dict(self) -> dict[str, str]:
        return {"error": self.error, "detail": self.detail, "field": self.field}


class Unavailable(CatalogueError):
    """The database cannot be reached (or refuses the connection)."""

    error = "unavailable"
    status = 503
