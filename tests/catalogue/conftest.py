"""Every catalogue test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL runs need LEVEL4_TEST_POSTGRES_URL; each test gets a schema of its
own (through the connection's search_path), so test files and runs may share
one database at the same time.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

import translations
from level4.catalogue import Catalogue, upgrade

POSTGRES_ENV = "LEVEL4_TEST_POSTGRES_URL"
# Listed as a venue, but its scheme module does not exist (as for venues not written yet).
UNWRITTEN_VENUE = "UNWRITTENVENUE"


def postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set; the PostgreSQL variant of this test needs it")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalogue.sqlite3'}"
        return
    base = postgres_base_url()
    schema = f"test_catalogue_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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
