"""The catalogue repository: symbols, exchanges and markets as plain dicts.

Called from an actor thread and from the HTTP server's threads at once: the
engine's pool is thread-safe and every call uses its own session, so no ORM
object is ever shared between threads. Every failure is a CatalogueError.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, cast
from urllib.parse import urlsplit

import structlog
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

import translations
from level4.catalogue import models
from level4.catalogue.catalogue_errors import CatalogueError, Duplicate, Invalid, NotFound
from level4.catalogue.catalogue_url import default_url, mask_endpoint, mask_url
from level4.catalogue.db import make_engine, translate
from level4.catalogue.models import Exchange, Market, Symbol

log = structlog.get_logger(__name__)

# Letters and digits, then also '_' and '.'; no '-', ':' or spaces, which would make tags ambiguous.
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9_.]*")
_INSTRUMENT = re.compile(r"[^\s:]+")
_URL_SCHEMES = {"ws_url": ("ws", "wss"), "rest_url": ("http", "https")}
_INSTRUMENT_TYPES = ("FUTURE", "OPTION")

SymbolDict = dict[str, Any]
ExchangeDict = dict[str, Any]
MarketDict = dict[str, Any]


class Catalogue:
    """The catalogue at `url` (default: `default_url()`).

    Connects lazily: building one never fails for want of a database; the
    first call that needs it raises Unavailable instead.
    """

    def __init__(self, url: str | None = None) -> None:
        self._url = url if url is not None else default_url()
        self._engine = make_engine(self._url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        # SQLite allows one writer and may refuse a second one outright
        # ("database is locked") when both read first; queue writers here instead.
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if self._engine.dialect.name == "sqlite" else nullcontext()
        )

    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return mask_url(self._url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalogue({self.url!r})"

    # --- symbols ------------------------------------------------------------

    def add_symbol(self, symbol: str) -> SymbolDict:
        code = _symbol_code(symbol, "symbol")
        with self._tx(write=True, duplicate=f"symbol {code} already exists") as s:
            if s.scalar(select(Symbol.id).where(Symbol.symbol == code)) is not None:
                raise Duplicate(f"symbol {code} already exists")
            row = Symbol(symbol=code)
            s.add(row)
            s.flush()
            out = _symbol_dict(row)
        log.info("catalogue_symbol_added", **out)
        return out

    def list_symbols(self) -> list[SymbolDict]:
        with self._tx() as s:
            return [_symbol_dict(r) for r in s.scalars(select(Symbol).order_by(Symbol.id))]

    def get_symbol(self, id: int) -> SymbolDict:
        key = _id(id, "id")
        with self._tx() as s:
            row = s.get(Symbol, key)
            if row is None:
                raise NotFound(f"no symbol with id {key}")
            return _symbol_dict(row)

    # --- exchanges ----------------------------------------------------------

    def add_exchange(self, name: str, ws_url: str | None = None, rest_url: str | None = None) -> ExchangeDict:
        venue = _venue_name(name)
        ws = _url(ws_url, "ws_url")
        rest = _url(rest_url, "rest_url")
        with self._tx(write=True, duplicate=f"exchange {venue} already exists") as s:
            if s.scalar(select(Exchange.id).where(Exchange.name == venue)) is not None:
                raise Duplicate(f"exchange {venue} already exists")
            row = Exchange(name=venue, ws_url=ws, rest_url=rest)
            s.add(row)
            s.flush()
            out = _exchange_dict(row)
        log.info(
            "catalogue_exchange_added",
            id=out["id"],
            name=venue,
            ws_url=mask_endpoint(ws),
            rest_url=mask_endpoint(rest),
        )
        return out

    def list_exchanges(self) -> list[ExchangeDict]:
        with self._tx() as s:
            return [_exchange_dict(r) for r in s.scalars(select(Exchange).order_by(Exchange.id))]

    def get_exchange(self, id: int) -> ExchangeDict:
        key = _id(id, "id")
        with self._tx() as s:
            row = s.get(Exchange, key)
            if row is None:
                raise NotFound(f"no exchange with id {key}")
            return _exchange_dict(row)

    # --- markets ------------------------------------------------------------

    def add_market(
        self,
        exchange: str | int,
        base_symbol: str | int,
        quote_symbol: str | int,
        market_type: str = "SPOT",
        instrument: str = "",
    ) -> MarketDict:
        kind = _market_type(market_type)
        name = _instrument(instrument, kind)
        with self._tx(write=True, duplicate="that market already exists") as s:
            venue = _find_exchange(s, exchange)
            base = _find_symbol(s, base_symbol, "base_symbol")
            quote = _find_symbol(s, quote_symbol, "quote_symbol")
            if base.id == quote.id:
                raise Invalid("quote_symbol", f"must differ from the base symbol ({base.symbol})")
            _check_venue_type(venue.name, kind)
            described = f"{venue.name} {kind} market {base.symbol}-{quote.symbol}" + (f" ({name})" if name else "")
            existing = s.scalar(
                select(Market.id).where(
                    Market.exchange_id == venue.id,
                    Market.base_symbol_id == base.id,
                    Market.quote_symbol_id == quote.id,
                    Market.market_type == kind,
                    Market.instrument == name,
                )
            )
            if existing is not None:
                raise Duplicate(f"{described} already exists with id {existing}")
            row = Market(exchange=venue, base=base, quote=quote, market_type=kind, instrument=name)
            s.add(row)
            s.flush()
            out = _market_dict(row)
        log.info("catalogue_market_added", id=out["id"], tag=out["tag"])
        return out

    def list_markets(self, enabled: bool | None = None) -> list[MarketDict]:
        if enabled is not None and not isinstance(enabled, bool):
            raise Invalid("enabled", f"must be true, false or absent, not {enabled!r}")
        query = select(Market).order_by(Market.id)
        if enabled is not None:
            query = query.where(Market.level4_feed_enabled == enabled)
        with self._tx() as s:
            return [_market_dict(r) for r in s.scalars(query)]

    def get_market(self, id: int) -> MarketDict:
        key = _id(id, "id")
        with self._tx() as s:
            return _market_dict(_get_market(s, key))

    def set_feed_enabled(self, id: int, enabled: bool) -> MarketDict:
        key = _id(id, "id")
        if not isinstance(enabled, bool):
            raise Invalid("level4_feed_enabled", f"must be true or false, not {enabled!r}")
        with self._tx(write=True) as s:
            # One UPDATE rather than read-modify-write: a market deleted
            # meanwhile shows as no row changed, not as a stale ORM object.
            changed = s.execute(
                update(Market).where(Market.id == key).values(level4_feed_enabled=enabled),
                execution_options={"synchronize_session": False},
            )
            if cast(CursorResult[Any], changed).rowcount == 0:
                raise NotFound(f"no market with id {key}")
            out = _market_dict(_get_market(s, key))
        log.info("catalogue_feed_enabled" if enabled else "catalogue_feed_disabled", id=key, tag=out["tag"])
        return out

    def delete_market(self, id: int) -> MarketDict:
        """Delete a market; returns it as it was (its tag names the feed to stop)."""
        key = _id(id, "id")
        with self._tx(write=True) as s:
            out = _market_dict(_get_market(s, key))
            gone = s.execute(delete(Market).where(Market.id == key), execution_options={"synchronize_session": False})
            if cast(CursorResult[Any], gone).rowcount == 0:  # another caller deleted it first
                raise NotFound(f"no market with id {key}")
        log.info("catalogue_market_deleted", id=key, tag=out["tag"])
        return out

    # --- plumbing -----------------------------------------------------------

    @contextmanager
    def _tx(self, write: bool = False, duplicate: str = "that row already exists") -> Iterator[Session]:
        """One transaction; database failures leave as catalogue errors.

        An IntegrityError means another writer got there between our check
        and our insert: report it as the duplicate it is.
        """
        with self._write_lock if write else nullcontext():
            try:
                with self._sessions.begin() as session:
                    yield session
            except CatalogueError:
                raise
            except sa_exc.IntegrityError:
                raise Duplicate(duplicate) from None
            except sa_exc.SQLAlchemyError as e:
                error = translate(e, self._url)
                log.warning("catalogue_database_error", url=self.url, error=error.error, detail=error.detail)
                raise error from None


# --- validation ---------------------------------------------------------------


def _id(value: object, field: str) -> int:
    # bool is an int in Python, but True is no one's id.
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(field, f"must be an integer id, not {value!r}")
    return value


def _symbol_code(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise Invalid(field, f"must be a currency code, not {value!r}")
    code = value.strip().upper()
    if not code:
        raise Invalid(field, "must not be empty")
    if len(code) > models.SYMBOL_LENGTH:
        raise Invalid(field, f"at most {models.SYMBOL_LENGTH} characters")
    if not _SYMBOL.fullmatch(code):
        raise Invalid(field, f"{value!r} is not a currency code (letters, digits, '_' and '.')")
    return code


def _venue_name(value: object) -> str:
    known = translations.names()
    name = value.strip().upper() if isinstance(value, str) else None
    if name not in known:
        raise Invalid("name", f"{value!r} is not a venue level4 has a scheme for; known: {', '.join(known)}")
    return name


def _url(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(field, f"must be a URL or null, not {value!r}")
    url = value.strip()
    if not url:  # a blank override means: use the venue's default
        return None
    schemes = _URL_SCHEMES[field]
    wanted = " or ".join(f"{s}://" for s in schemes)
    if len(url) > models.URL_LENGTH:
        raise Invalid(field, f"at most {models.URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        raise Invalid(field, f"{url!r} is not a URL: {e}") from None
    if parts.scheme.lower() not in schemes or not parts.hostname or any(c.isspace() for c in url):
        raise Invalid(field, f"{url!r} is not a {wanted} URL with a host")
    return url


def _market_type(value: object) -> str:
    kind = value.strip().upper() if isinstance(value, str) else None
    if kind not in models.MARKET_TYPES:
        raise Invalid("market_type", f"{value!r} is not one of {', '.join(models.MARKET_TYPES)}")
    return kind


def _instrument(value: object, kind: str) -> str:
    if not isinstance(value, str):
        raise Invalid("instrument", f"must be the venue's instrument name or '', not {value!r}")
    name = value.strip()
    if not name:
        return ""
    if kind not in _INSTRUMENT_TYPES:
        # The tag of a SPOT or PERP market has no room for it, so two such
        # markets would share one tag.
        raise Invalid("instrument", f"only FUTURE and OPTION markets name a venue instrument, not {kind}")
    if len(name) > models.INSTRUMENT_LENGTH:
        raise Invalid("instrument", f"at most {models.INSTRUMENT_LENGTH} characters")
    if not _INSTRUMENT.fullmatch(name):
        raise Invalid("instrument", f"{value!r} may not contain spaces or ':'")
    return name


def _check_venue_type(venue: str, kind: str) -> None:
    try:
        offered = [str(t) for t in translations.market_types_of(venue)]
    except ImportError:
        return  # the venue's scheme is not written yet: nothing to check against
    except translations.UnknownVenue as e:  # stored before its venue was dropped from level4
        raise Invalid("exchange", str(e)) from None
    if kind not in offered:
        raise Invalid("market_type", f"{venue} has no {kind} markets; it offers {', '.join(offered)}")


# --- lookups --------------------------------------------------------------------


def _find_exchange(s: Session, key: object) -> Exchange:
    if isinstance(key, str):
        name = key.strip().upper()
        row = s.scalar(select(Exchange).where(Exchange.name == name))
        if row is None:
            raise NotFound(f"no exchange named {name!r} in the catalogue; add it first")
        return row
    ident = _id(key, "exchange")
    found = s.get(Exchange, ident)
    if found is None:
        raise NotFound(f"no exchange with id {ident}")
    return found


def _find_symbol(s: Session, key: object, field: str) -> Symbol:
    if isinstance(key, str):
        code = key.strip().upper()
        row = s.scalar(select(Symbol).where(Symbol.symbol == code))
        if row is None:
            raise NotFound(f"{field}: no symbol {code!r} in the catalogue")
        return row
    ident = _id(key, field)
    found = s.get(Symbol, ident)
    if found is None:
        raise NotFound(f"{field}: no symbol with id {ident}")
    return found


def _get_market(s: Session, key: int) -> Market:
    row = s.get(Market, key)
    if row is None:
        raise NotFound(f"no market with id {key}")
    return row


# --- dicts ------------------------------------------------------------------------


def _symbol_dict(row: Symbol) -> SymbolDict:
    return {"id": row.id, "symbol": row.symbol}


def _exchange_dict(row: Exchange) -> ExchangeDict:
    return {"id": row.id, "name": row.name, "ws_url": row.ws_url, "rest_url": row.rest_url}


def market_tag(exchange: str, market_type: str, base: str, quote: str, instrument: str = "") -> str:
    """`EXCHANGE.TYPE:BASE-QUOTE`, or `EXCHANGE.TYPE:INSTRUMENT` for a dated
    future or option that names one (many of them share one pair)."""
    if market_type in _INSTRUMENT_TYPES and instrument:
        return f"{exchange}.{market_type}:{instrument}"
    return f"{exchange}.{market_type}:{base}-{quote}"


def _market_dict(row: Market) -> MarketDict:
    return {
        "id": row.id,
        "tag": market_tag(row.exchange.name, row.market_type, row.base.symbol, row.quote.symbol, row.instrument),
        "exchange": row.exchange.name,
        "base_symbol": row.base.symbol,
        "quote_symbol": row.quote.symbol,
        "market_type": row.market_type,
        "instrument": row.instrument,
        "level4_feed_enabled": bool(row.level4_feed_enabled),
        "ws_url": row.exchange.ws_url,
        "rest_url": row.exchange.rest_url,
    }
