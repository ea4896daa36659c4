"""The catalogue: which symbols, exchanges and markets level4 knows, and
which markets should have a live feed. SQLite by default, PostgreSQL by URL;
the schema is kept by Alembic migrations (`upgrade`)."""

from __future__ import annotations

from level4.catalogue.catalogue_errors import CatalogueError, Duplicate, Invalid, NotFound, Unavailable
from level4.catalogue.catalogue_url import default_url, mask_url
from level4.catalogue.migrate import upgrade
from level4.catalogue.repo import Catalogue, market_tag

__all__ = [
    "Catalogue",
    "CatalogueError",
    "Duplicate",
    "Invalid",
    "NotFound",
    "Unavailable",
    "default_url",
    "market_tag",
    "mask_url",
    "upgrade",
]
