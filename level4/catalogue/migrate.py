"""Bring a catalogue database to the newest schema, from code.

Alembic is configured here rather than from an ini file so that this works
from an installed package, whatever the working directory.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.pool import NullPool

import migrations
from level4.catalogue.catalogue_errors import CatalogueError
from level4.catalogue.catalogue_url import mask_url
from level4.catalogue.db import make_engine, translate

log = structlog.get_logger(__name__)

# Any fixed number: serialises level4 processes migrating the same PostgreSQL database.
_PG_MIGRATION_LOCK = 0x1E4E14


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).resolve().parent))
    return cfg


def head() -> str | None:
    """The newest revision this build of level4 knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(url: str) -> None:
    """Migrate the database at `url` to head; a no-op when it is already there.

    Raises Unavailable when the database cannot be reached, CatalogueError for
    any other database failure, Invalid for an unusable URL.
    """
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Released at commit; a second process waits, then finds nothing to do.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            before = MigrationContext.configure(conn).get_current_revision()
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            after = MigrationContext.configure(conn).get_current_revision()
    except CatalogueError:
        raise
    except sa_exc.SQLAlchemyError as e:
        error = translate(e, url)
        log.error("catalogue_migration_failed", url=mask_url(url), error=error.error, detail=error.detail)
        raise error from None
    finally:
        engine.dispose()
    log.info("catalogue_migrated", url=mask_url(url), from_revision=before, to_revision=after, changed=before != after)
