"""Every catalogue test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL runs need LEVEL4_TEST_POSTGRES_URL; each test gets a schema of its
own (through the connection's search_path), so test files and runs may share
one database at the same time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import translations
from level4.catalogue import Catalogue, upgrade

# Listed as a venue, but its scheme module does not exist (as for venues not written yet).
UNWRITTEN_VENUE = "UNWRITTENVENUE"


@pytest.fixture
def catalogue(db_url: str) -> Iterator[Catalogue]:
    """A migrated, empty catalogue."""
    upgrade(db_url)
    cat = Catalogue(db_url)
    try:
        yield cat
    finally:
        cat.close()


@pytest.fixture
def unwritten_venue(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(translations.VENUES, UNWRITTEN_VENUE, "translations.no_such_scheme_module_for_tests")
    return UNWRITTEN_VENUE
