"""Engines for the catalogue and the mapping of database failures to catalogue errors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url

from level4.catalogue.catalogue_errors import CatalogueError, Invalid, Unavailable
from level4.catalogue.catalogue_url import mask_url, scrub

# libpq waits for ever on an unanswered SYN; a catalogue call should fail fast instead.
POSTGRES_CONNECT_TIMEOUT = 5


def make_engine(url: str, connect_args: dict[str, Any] | None = None, **kwargs: Any) -> Engine:
    """A sync engine that checks connections before use (the service outlives
    database restarts). Raises Invalid for a URL SQLAlchemy cannot use."""
    try:
        parsed = make_url(url)
        connect_args = dict(connect_args or {})
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError, ValueError) as e:
        raise Invalid("url", f"not a usable database URL ({mask_url(url)}): {scrub(str(e), url)}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _missing_table(e: sa_exc.DBAPIError) -> bool:
    # 42P01 is PostgreSQL's undefined_table; SQLite only says it in words.
    return getattr(e.orig, "sqlstate", None) == "42P01" or "no such table" in str(e.orig).lower()


def translate(e: sa_exc.SQLAlchemyError, url: str) -> CatalogueError:
    """The catalogue error for a SQLAlchemy failure (IntegrityError is the
    caller's to map, since only the caller knows what was duplicated)."""
    where = mask_url(url)
    if isinstance(e, sa_exc.DBAPIError):
        reason = scrub(str(e.orig).strip().splitlines()[0] if str(e.orig).strip() else type(e.orig).__name__, url)
        if _missing_table(e):
            return CatalogueError(f"the catalogue tables are missing in {where}; run `level4 migrate` ({reason})")
        if isinstance(e, sa_exc.OperationalError | sa_exc.InterfaceError) or e.connection_invalidated:
            return Unavailable(f"the catalogue database is unavailable ({where}): {reason}")
        return CatalogueError(f"the catalogue database failed ({where}): {reason}")
    if isinstance(e, sa_exc.TimeoutError):  # no pooled connection came free
        return Unavailable(f"the catalogue database is unavailable ({where}): connection pool exhausted")
    return CatalogueError(f"the catalogue database failed ({where}): {scrub(str(e).splitlines()[0], url)}")
