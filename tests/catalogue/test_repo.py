"""The catalogue repository on both databases: every method, every refusal."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.pool import NullPool
from structlog.testing import capture_logs

import translations
from level4.catalogue import Catalogue, Duplicate, Invalid, NotFound, Unavailable, default_url
from level4.catalogue.db import make_engine

PASSWORD = "s3cr3t-Pa55"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def seeded(catalogue: Catalogue) -> Catalogue:
    catalogue.add_exchange("coinbase", ws_url="ws://127.0.0.1:9001/coinbase", rest_url="http://127.0.0.1:9001")
    for code in ("BTC", "ETH", "USD"):
        catalogue.add_symbol(code)
    return catalogue


# --- symbols ---------------------------------------------------------------------


def test_symbols_are_stored_upper_case_and_listed_in_order(catalogue: Catalogue) -> None:
    assert catalogue.add_symbol(" btc ") == {"id": 1, "symbol": "BTC"}
    assert catalogue.add_symbol("Usd") == {"id": 2, "symbol": "USD"}
    assert catalogue.add_symbol("1000shib") == {"id": 3, "symbol": "1000SHIB"}
    assert catalogue.list_symbols() == [
        {"id": 1, "symbol": "BTC"},
        {"id": 2, "symbol": "USD"},
        {"id": 3, "symbol": "1000SHIB"},
    ]
    assert catalogue.get_symbol(2) == {"id": 2, "symbol": "USD"}


def test_a_symbol_differing_only_in_case_is_a_duplicate(catalogue: Catalogue) -> None:
    catalogue.add_symbol("BTC")
    with pytest.raises(Duplicate, match="BTC already exists") as caught:
        catalogue.add_symbol("btc")
    assert caught.value.error == "duplicate"
    assert catalogue.list_symbols() == [{"id": 1, "symbol": "BTC"}]


@pytest.mark.parametrize("bad", ["", "   ", "BTC-USD", "BTC:USD", "B TC", "X" * 33, 7, None])
def test_bad_symbols_are_invalid(catalogue: Catalogue, bad: Any) -> None:
    with pytest.raises(Invalid) as caught:
        catalogue.add_symbol(bad)
    assert caught.value.field == "symbol"
    assert caught.value.error == "invalid"
    assert catalogue.list_symbols() == []


def test_unknown_symbol_id_is_not_found(catalogue: Catalogue) -> None:
    with pytest.raises(NotFound, match="no symbol with id 42") as caught:
        catalogue.get_symbol(42)
    assert caught.value.error == "not_found"


@pytest.mark.parametrize("bad", [True, "1", 1.0, None])
def test_ids_must_be_integers(catalogue: Catalogue, bad: Any) -> None:
    for call in (catalogue.get_symbol, catalogue.get_exchange, catalogue.get_market, catalogue.delete_market):
        with pytest.raises(Invalid, match="integer id"):
            call(bad)


# --- exchanges -------------------------------------------------------------------


def test_exchanges_are_stored_upper_case_with_their_overrides(catalogue: Catalogue) -> None:
    added = catalogue.add_exchange("coinbase", ws_url="wss://proxy.example/ws", rest_url="https://proxy.example")
    assert added == {
        "id": 1,
        "name": "COINBASE",
        "ws_url": "wss://proxy.example/ws",
        "rest_url": "https://proxy.example",
    }
    assert catalogue.get_exchange(1) == added
    assert catalogue.list_exchanges() == [added]


def test_exchange_overrides_default_to_none(catalogue: Catalogue, unwritten_venue: str) -> None:
    assert catalogue.add_exchange(unwritten_venue.lower(), ws_url="", rest_url=None) == {
        "id": 1,
        "name": unwritten_venue,
        "ws_url": None,
        "rest_url": None,
    }


def test_a_second_exchange_of_the_same_venue_is_a_duplicate(catalogue: Catalogue) -> None:
    catalogue.add_exchange("COINBASE")
    with pytest.raises(Duplicate, match="COINBASE already exists"):
        catalogue.add_exchange("Coinbase", ws_url="ws://127.0.0.1:1/")


@pytest.mark.parametrize("name", ["nope", "", "COINBASE.SPOT", 3])
def test_an_exchange_without_a_scheme_is_invalid_and_the_known_venues_are_named(
    catalogue: Catalogue, name: Any
) -> None:
    with pytest.raises(Invalid) as caught:
        catalogue.add_exchange(name)
    assert caught.value.field == "name"
    for venue in translations.names():
        assert venue in caught.value.detail


def test_the_added_event_hides_a_proxy_password(catalogue: Catalogue) -> None:
    with capture_logs() as logs:
        added = catalogue.add_exchange("COINBASE", ws_url=f"wss://me:{PASSWORD}@proxy.example/ws")
    assert added["ws_url"] == f"wss://me:{PASSWORD}@proxy.example/ws"  # the caller gets what it stored
    (event,) = [e for e in logs if e["event"] == "catalogue_exchange_added"]
    assert event["ws_url"] == "wss://me:***@proxy.example/ws"
    assert PASSWORD not in repr(logs)


def test_unknown_exchange_id_is_not_found(catalogue: Catalogue) -> None:
    with pytest.raises(NotFound, match="no exchange with id 9"):
        catalogue.get_exchange(9)


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("ws_url", "http://127.0.0.1:9001"),
        ("ws_url", "wss://"),
        ("ws_url", "127.0.0.1:9001"),
        ("ws_url", "ws://127.0.0.1:notaport/"),
        ("ws_url", "ws://host/with space"),
        ("ws_url", 9001),
        ("rest_url", "wss://127.0.0.1:9001"),
        ("rest_url", "ftp://example.com"),
        ("rest_url", "https:///path-only"),
    ],
)
def test_bad_urls_are_invalid(catalogue: Catalogue, field: str, url: Any) -> None:
    with pytest.raises(Invalid) as caught:
        catalogue.add_exchange("COINBASE", **{field: url})
    assert caught.value.field == field
    assert catalogue.list_exchanges() == []


@pytest.mark.parametrize(
    ("ws_url", "rest_url"),
    [
        ("ws://127.0.0.1:9001", "http://127.0.0.1:9001"),
        ("WSS://testnet.example.com/ws?stream=x", "HTTPS://testnet.example.com/api/v3"),
        ("ws://[::1]:9001/", "http://localhost"),
    ],
)
def test_good_urls_are_kept_as_given(catalogue: Catalogue, ws_url: str, rest_url: str) -> None:
    added = catalogue.add_exchange("COINBASE", ws_url=ws_url, rest_url=rest_url)
    assert (added["ws_url"], added["rest_url"]) == (ws_url, rest_url)


# --- markets ---------------------------------------------------------------------


def test_add_market_by_names_case_insensitively(seeded: Catalogue) -> None:
    market = seeded.add_market("coinbase", "btc", "Usd")
    assert market == {
        "id": 1,
        "tag": "COINBASE.SPOT:BTC-USD",
        "exchange": "COINBASE",
        "base_symbol": "BTC",
        "quote_symbol": "USD",
        "market_type": "SPOT",
        "instrument": "",
        "level4_feed_enabled": False,
        "ws_url": "ws://127.0.0.1:9001/coinbase",
        "rest_url": "http://127.0.0.1:9001",
    }
    assert seeded.get_market(1) == market
    assert seeded.list_markets() == [market]


def test_add_market_by_ids(seeded: Catalogue) -> None:
    market = seeded.add_market(1, 2, 3, "spot")
    assert (market["tag"], market["market_type"]) == ("COINBASE.SPOT:ETH-USD", "SPOT")


def test_market_urls_are_none_without_overrides(catalogue: Catalogue, unwritten_venue: str) -> None:
    catalogue.add_exchange(unwritten_venue)
    catalogue.add_symbol("BTC")
    catalogue.add_symbol("USD")
    market = catalogue.add_market(unwritten_venue, "BTC", "USD")
    assert (market["ws_url"], market["rest_url"]) == (None, None)


def test_the_same_market_twice_is_a_duplicate(seeded: Catalogue) -> None:
    seeded.add_market("COINBASE", "BTC", "USD")
    with pytest.raises(Duplicate, match="COINBASE SPOT market BTC-USD already exists with id 1"):
        seeded.add_market(1, 1, 3)
    assert len(seeded.list_markets()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("BINANCE", "BTC", "USD"), "no exchange named 'BINANCE'"),
        ((7, "BTC", "USD"), "no exchange with id 7"),
        (("COINBASE", "DOGE", "USD"), "base_symbol: no symbol 'DOGE'"),
        (("COINBASE", "BTC", 99), "quote_symbol: no symbol with id 99"),
    ],
)
def test_unknown_exchange_or_symbol_is_not_found(seeded: Catalogue, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(NotFound, match=message):
        seeded.add_market(*args)


def test_base_and_quote_must_differ(seeded: Catalogue) -> None:
    with pytest.raises(Invalid) as caught:
        seeded.add_market("COINBASE", "BTC", 1)
    assert caught.value.field == "quote_symbol"


def test_a_market_type_the_venue_does_not_offer_is_invalid(seeded: Catalogue) -> None:
    with pytest.raises(Invalid) as caught:
        seeded.add_market("COINBASE", "BTC", "USD", "PERP")
    assert caught.value.field == "market_type"
    assert "COINBASE has no PERP markets; it offers SPOT" in caught.value.detail


@pytest.mark.parametrize("kind", ["SWAP", "", None])
def test_an_unknown_market_type_is_invalid_on_any_venue(catalogue: Catalogue, unwritten_venue: str, kind: Any) -> None:
    catalogue.add_exchange(unwritten_venue)
    catalogue.add_symbol("BTC")
    catalogue.add_symbol("USD")
    with pytest.raises(Invalid) as caught:
        catalogue.add_market(unwritten_venue, "BTC", "USD", kind)
    assert caught.value.field == "market_type"
    assert "SPOT, PERP, FUTURE, OPTION" in caught.value.detail


def test_a_venue_dropped_from_level4_takes_no_new_markets(
    catalogue: Catalogue, unwritten_venue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue.add_exchange(unwritten_venue)
    catalogue.add_symbol("BTC")
    catalogue.add_symbol("USD")
    monkeypatch.delitem(translations.VENUES, unwritten_venue)
    with pytest.raises(Invalid) as caught:
        catalogue.add_market(unwritten_venue, "BTC", "USD")
    assert caught.value.field == "exchange"
    assert catalogue.list_markets() == []


def test_a_venue_whose_scheme_is_not_written_accepts_every_type(catalogue: Catalogue, unwritten_venue: str) -> None:
    catalogue.add_exchange(unwritten_venue)
    catalogue.add_symbol("BTC")
    catalogue.add_symbol("USD")
    tags = [
        catalogue.add_market(unwritten_venue, "BTC", "USD", "spot")["tag"],
        catalogue.add_market(unwritten_venue, "BTC", "USD", "perp")["tag"],
        catalogue.add_market(unwritten_venue, "BTC", "USD", "FUTURE", "BTC-27JUN25")["tag"],
        catalogue.add_market(unwritten_venue, "BTC", "USD", "FUTURE", "BTC-26SEP25")["tag"],
        catalogue.add_market(unwritten_venue, "BTC", "USD", "OPTION", "BTC-27JUN25-100000-C")["tag"],
        catalogue.add_market(unwritten_venue, "BTC", "USD", "FUTURE")["tag"],
    ]
    v = unwritten_venue
    assert tags == [
        f"{v}.SPOT:BTC-USD",
        f"{v}.PERP:BTC-USD",
        f"{v}.FUTURE:BTC-27JUN25",
        f"{v}.FUTURE:BTC-26SEP25",
        f"{v}.OPTION:BTC-27JUN25-100000-C",
        f"{v}.FUTURE:BTC-USD",
    ]
    with pytest.raises(Duplicate):
        catalogue.add_market(unwritten_venue, "BTC", "USD", "FUTURE", " BTC-27JUN25 ")


@pytest.mark.parametrize(
    ("kind", "instrument"),
    [("SPOT", "BTC-USD"), ("PERP", "BTC-PERPETUAL"), ("FUTURE", "BTC 27JUN25"), ("OPTION", "A:B"), ("FUTURE", 5)],
)
def test_bad_instruments_are_invalid(catalogue: Catalogue, unwritten_venue: str, kind: str, instrument: Any) -> None:
    catalogue.add_exchange(unwritten_venue)
    catalogue.add_symbol("BTC")
    catalogue.add_symbol("USD")
    with pytest.raises(Invalid) as caught:
        catalogue.add_market(unwritten_venue, "BTC", "USD", kind, instrument)
    assert caught.value.field == "instrument"


def test_enabled_filter_and_set_feed_enabled(seeded: Catalogue) -> None:
    btc = seeded.add_market("COINBASE", "BTC", "USD")
    eth = seeded.add_market("COINBASE", "ETH", "USD")
    assert seeded.list_markets(enabled=True) == []
    assert [m["id"] for m in seeded.list_markets(enabled=False)] == [btc["id"], eth["id"]]

    on = seeded.set_feed_enabled(eth["id"], True)
    assert on == {**eth, "level4_feed_enabled": True}
    assert seeded.list_markets(enabled=True) == [on]
    assert seeded.list_markets(enabled=False) == [btc]
    assert seeded.list_markets() == [btc, on]
    assert seeded.set_feed_enabled(eth["id"], True) == on  # setting it again changes nothing

    assert seeded.set_feed_enabled(eth["id"], False) == eth
    assert seeded.list_markets(enabled=True) == []


def test_set_feed_enabled_refuses_unknown_ids_and_non_booleans(seeded: Catalogue) -> None:
    with pytest.raises(NotFound, match="no market with id 5"):
        seeded.set_feed_enabled(5, True)
    market = seeded.add_market("COINBASE", "BTC", "USD")
    for bad in (1, "true", None):
        with pytest.raises(Invalid) as caught:
            seeded.set_feed_enabled(market["id"], bad)  # type: ignore[arg-type]
        assert caught.value.field == "level4_feed_enabled"
    with pytest.raises(Invalid):
        seeded.list_markets(enabled="yes")  # type: ignore[arg-type]


def test_delete_market(seeded: Catalogue) -> None:
    btc = seeded.add_market("COINBASE", "BTC", "USD")
    eth = seeded.add_market("COINBASE", "ETH", "USD")
    assert seeded.delete_market(btc["id"]) == btc
    assert seeded.list_markets() == [eth]
    with pytest.raises(NotFound, match=f"no market with id {btc['id']}"):
        seeded.get_market(btc["id"])
    with pytest.raises(NotFound):
        seeded.delete_market(btc["id"])
    # The symbols and the exchange stay, and the market can be added again.
    assert seeded.add_market("COINBASE", "BTC", "USD")["tag"] == "COINBASE.SPOT:BTC-USD"


# --- concurrency -----------------------------------------------------------------


def test_a_lost_insert_race_is_a_duplicate(catalogue: Catalogue, db_url: str) -> None:
    """Another writer inserts the same symbol between our check and our insert."""
    rival = make_engine(db_url, poolclass=NullPool)
    sneaked: list[str] = []

    def sneak_in(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO symbols") and not sneaked:
            sneaked.append(statement)
            with rival.begin() as other:
                other.execute(text("INSERT INTO symbols (symbol) VALUES ('BTC')"))

    event.listen(catalogue._engine, "before_cursor_execute", sneak_in)
    try:
        with pytest.raises(Duplicate, match="BTC already exists"):
            catalogue.add_symbol("BTC")
    finally:
        event.remove(catalogue._engine, "before_cursor_execute", sneak_in)
        rival.dispose()
    assert sneaked
    assert [s["symbol"] for s in catalogue.list_symbols()] == ["BTC"]


def test_a_market_deleted_meanwhile_is_not_found(seeded: Catalogue, db_url: str) -> None:
    """Another caller deletes the market between our read and our delete."""
    market = seeded.add_market("COINBASE", "BTC", "USD")
    rival = make_engine(db_url, poolclass=NullPool)
    sneaked: list[str] = []

    def sneak_in(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("DELETE FROM markets") and not sneaked:
            sneaked.append(statement)
            with rival.begin() as other:
                other.execute(text("DELETE FROM markets"))

    event.listen(seeded._engine, "before_cursor_execute", sneak_in)
    try:
        with pytest.raises(NotFound, match=f"no market with id {market['id']}"):
            seeded.delete_market(market["id"])
    finally:
        event.remove(seeded._engine, "before_cursor_execute", sneak_in)
        rival.dispose()
    assert sneaked
    with pytest.raises(NotFound):
        seeded.set_feed_enabled(market["id"], True)


def test_threads_share_one_catalogue(catalogue: Catalogue) -> None:
    codes = [f"C{i}" for i in range(24)]
    errors: list[BaseException] = []
    duplicates: list[Duplicate] = []
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        try:
            start.wait()
            for code in codes[worker::8]:
                catalogue.add_symbol(code)
                catalogue.list_symbols()
            try:
                catalogue.add_symbol("SAME")
            except Duplicate as e:
                duplicates.append(e)
        except BaseException as e:  # surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(duplicates) == 7  # exactly one thread added SAME
    assert sorted(s["symbol"] for s in catalogue.list_symbols()) == sorted([*codes, "SAME"])


# --- an unreachable database -----------------------------------------------------


def test_unreachable_postgres_is_unavailable_and_the_password_stays_secret() -> None:
    cat = Catalogue(f"postgresql+psycopg://level4:{PASSWORD}@127.0.0.1:{closed_port()}/level4")
    assert PASSWORD not in cat.url and PASSWORD not in repr(cat)
    for call in (cat.list_symbols, lambda: cat.add_symbol("BTC"), lambda: cat.get_market(1)):
        with pytest.raises(Unavailable) as caught:
            call()
        assert caught.value.error == "unavailable"
        assert "database is unavailable" in caught.value.detail
        assert PASSWORD not in caught.value.detail
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
    cat.close()


def test_sqlite_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with Catalogue(f"sqlite:///{tmp_path / 'missing' / 'catalogue.sqlite3'}") as cat:
        with pytest.raises(Unavailable, match="database is unavailable"):
            cat.list_exchanges()
        with pytest.raises(Unavailable):
            cat.add_exchange("COINBASE")


def test_a_catalogue_recovers_when_the_database_appears(tmp_path: Path) -> None:
    from level4.catalogue import upgrade

    folder = tmp_path / "later"
    url = f"sqlite:///{folder / 'catalogue.sqlite3'}"
    with Catalogue(url) as cat:
        with pytest.raises(Unavailable):
            cat.list_symbols()
        folder.mkdir()
        upgrade(url)
        assert cat.add_symbol("BTC") == {"id": 1, "symbol": "BTC"}


# --- the default database --------------------------------------------------------


def test_default_url_prefers_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEVEL4_DATABASE_URL", "postgresql+psycopg://u@db/level4")
    assert default_url() == "postgresql+psycopg://u@db/level4"
    monkeypatch.delenv("LEVEL4_DATABASE_URL")
    monkeypatch.chdir(tmp_path)
    assert default_url() == f"sqlite:///{tmp_path / 'level4.sqlite3'}"


def test_catalogue_defaults_to_a_sqlite_file_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from level4.catalogue import upgrade

    monkeypatch.delenv("LEVEL4_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    upgrade(default_url())
    with Catalogue() as cat:
        cat.add_symbol("BTC")
        assert cat.url == f"sqlite:///{tmp_path / 'level4.sqlite3'}"
    assert (tmp_path / "level4.sqlite3").is_file()
