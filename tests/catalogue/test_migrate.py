"""Migrations: from empty to head, idempotent, in step with the models."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.pool import NullPool
from structlog.testing import capture_logs

from level4.catalogue import Catalogue, CatalogueError, Invalid, Unavailable, upgrade
from level4.catalogue.db import make_engine
from level4.catalogue.migrate import head
from level4.catalogue.models import Base

PASSWORD = "s3cr3t-Pa55"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tables_and_revision(url: str) -> tuple[set[str], str | None]:
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()), MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_exactly_the_catalogue(db_url: str) -> None:
    assert tables_and_revision(db_url) == (set(), None)
    upgrade(db_url)
    tables = {"symbols", "exchanges", "markets", "cluster_nodes", "market_leases", "alembic_version"}
    assert tables_and_revision(db_url) == (tables, head())


CONSTRAINTS = {
    "symbols": {"pk_symbols", "uq_symbols_symbol", "ck_symbols_upper"},
    "exchanges": {"pk_exchanges", "uq_exchanges_name", "ck_exchanges_upper"},
    "markets": {
        "pk_markets",
        "uq_markets_identity",
        "ck_markets_market_type",
        "fk_markets_base_symbol_id_symbols",
        "fk_markets_quote_symbol_id_symbols",
        "fk_markets_exchange_id_exchanges",
    },
    "cluster_nodes": {"pk_cluster_nodes"},
    "market_leases": {"pk_market_leases", "fk_market_leases_market_id_markets"},
}


def test_constraints_have_the_same_names_in_the_database_and_the_models(db_url: str) -> None:
    # Alembic does not compare CHECK constraints; later migrations drop and alter by these names.
    upgrade(db_url)
    engine = make_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            for table, names in CONSTRAINTS.items():
                named = {found.get_pk_constraint(table)["name"]}
                named |= {c["name"] for c in found.get_unique_constraints(table)}
                named |= {c["name"] for c in found.get_check_constraints(table)}
                named |= {c["name"] for c in found.get_foreign_keys(table)}
                assert named == names
                assert {c.name for c in Base.metadata.tables[table].constraints} == names
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(db_url: str) -> None:
    upgrade(db_url)
    with Catalogue(db_url) as cat:
        cat.add_symbol("BTC")
    with capture_logs() as logs:
        upgrade(db_url)
    assert tables_and_revision(db_url)[1] == head() == "0003"
    with Catalogue(db_url) as cat:
        assert cat.list_symbols() == [{"id": 1, "symbol": "BTC"}]
    (event,) = [e for e in logs if e["event"] == "catalogue_migrated"]
    assert event["changed"] is False and event["from_revision"] == event["to_revision"] == "0003"


def test_models_match_the_migrations(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_upgrade_works_from_any_directory(db_url: str, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from level4.catalogue import upgrade; upgrade(sys.argv[1])", db_url],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert tables_and_revision(db_url)[1] == head()
    assert list(elsewhere.iterdir()) == []  # nothing written next to the caller


def test_migrated_event_masks_the_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    with capture_logs() as logs:
        upgrade(url)
    (event,) = [e for e in logs if e["event"] == "catalogue_migrated"]
    assert event["url"] == url and event["to_revision"] == "0003" and event["changed"] is True


def test_unreachable_postgres_is_unavailable_without_the_password() -> None:
    url = f"postgresql+psycopg://level4:{PASSWORD}@127.0.0.1:{closed_port()}/level4"
    with capture_logs() as logs, pytest.raises(Unavailable) as caught:
        upgrade(url)
    assert caught.value.error == "unavailable"
    assert "unavailable" in caught.value.detail
    assert PASSWORD not in caught.value.detail and PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(logs)


def test_sqlite_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="unavailable"):
        upgrade(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'c.sqlite3'}")


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://x/y", f"postgresql+nosuchdriver://u:{PASSWORD}@h/db"])
def test_unusable_urls_are_invalid(url: str) -> None:
    with pytest.raises(Invalid) as caught:
        upgrade(url)
    assert caught.value.field == "url"
    assert PASSWORD not in caught.value.detail


def test_an_unmigrated_database_says_to_migrate(db_url: str) -> None:
    with Catalogue(db_url) as cat, pytest.raises(CatalogueError, match="level4 migrate") as caught:
        cat.list_symbols()
    assert type(caught.value) is CatalogueError
