"""A PostgreSQL schema of a test's own on the shared server (named by
LEVEL4_TEST_POSTGRES_URL), as the `db_url` fixture makes, for tests that
must shape the URL themselves (a proxy's port, a password)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from tests.conftest import postgres_base_url


@contextmanager
def private_schema() -> Iterator[URL]:
    """The server's URL, with search_path set to a new schema dropped afterwards."""
    base = make_url(postgres_base_url())
    schema = f"test_l4_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"})
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
