"""Each venue's instrument list reader against the list recorded beside its session
(`VENUE.0`): counts, and known instruments with their tick and lot sizes, types and
expiries as the venue gave them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest

from level4.replay.replayer import read_listings
from tests.captures import capture
from translations import names, scheme_for, schemes_of
from translations.binance_futures import coinm, usdm
from translations.instrument_listing import (
    Listing,
    ListingError,
    ListingIndex,
    answers_list,
    decimal_text,
    decimals_step,
)
from translations.kraken_futures import scheme as kraken_futures
from translations.protocol import Instrument, MarketType, Scheme

SPOT, PERP, FUTURE, OPTION = MarketType.SPOT, MarketType.PERP, MarketType.FUTURE, MarketType.OPTION


def listed(scheme: Scheme, name: str) -> ListingIndex:
    return read_listings(scheme, capture(name))


def kinds(index: ListingIndex) -> dict[str, int]:
    return dict(Counter(str(listing.instrument.market_type) for listing in index.listings()))


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_binance_spot() -> None:
    index = listed(scheme_for("BINANCE"), "BINANCE.0")
    assert len(index) == 1695 and kinds(index) == {"SPOT": 1695}
    assert sum(not listing.trading for listing in index.listings()) == 433  # halted ("BREAK") pairs
    assert index.get("NKNUSDT") == Listing(Instrument("NKN", "USDT", SPOT, "NKNUSDT"), "0.00010000", "1.00000000")
    eth = index.get("ETHBTC")
    assert eth is not None and eth.tick_size == "0.00000100" and eth.lot_size == "0.00010000"


def test_binance_usd_margined_futures() -> None:
    index = listed(usdm, "BINANCE_FUTURES.0")
    assert len(index) == 122 and kinds(index) == {"PERP": 120, "FUTURE": 2}
    pending = index.get("BTCSTUSDT")  # listed with no contract type, not yet trading
    assert pending is not None and pending.instrument.market_type is PERP and not pending.trading
    btc = index.get("BTCUSDT")
    assert btc == Listing(Instrument("BTC", "USDT", PERP, "BTCUSDT"), "0.01", "0.001")
    dated = [x for x in index.listings() if x.instrument.market_type is FUTURE]
    assert all(x.expiry is not None and "_" in x.symbol for x in dated)


def test_binance_coin_margined_futures() -> None:
    index = listed(coinm, "BINANCE_DELIVERY.0")
    assert len(index) == 36 and kinds(index) == {"PERP": 18, "FUTURE": 18}
    dated = index.get("BTCUSD_211231")
    assert dated == Listing(Instrument("BTC", "USD", FUTURE, "BTCUSD_211231"), "0.1", "1", at("2021-12-31T08:00:00"))
    perp = index.get("BTCUSD_PERP")
    assert perp is not None and perp.instrument.market_type is PERP and perp.expiry is None


def test_bitfinex_lists_names_only() -> None:
    index = listed(scheme_for("BITFINEX"), "BITFINEX.0")
    assert len(index) == 328 and kinds(index) == {"SPOT": 293, "PERP": 35}
    assert index.get("tBTCUSD") == Listing(Instrument("BTC", "USD", SPOT, "tBTCUSD"))
    assert index.get("tAAVE:USD") == Listing(Instrument("AAVE", "USD", SPOT, "tAAVE:USD"))
    # Bitfinex's UST is Tether; perpetuals are F0 pairs
    assert index.get("tBTCF0:USTF0") == Listing(Instrument("BTC", "USDT", PERP, "tBTCF0:USTF0"))
    assert all(x.tick_size is None for x in index.listings())


def test_bitflyer() -> None:
    index = listed(scheme_for("BITFLYER"), "BITFLYER.0")
    assert len(index) == 13 and kinds(index) == {"SPOT": 9, "PERP": 1, "FUTURE": 3}
    assert index.get("FX_BTC_JPY") == Listing(Instrument("BTC", "JPY", PERP, "FX_BTC_JPY"))
    assert index.get("BTCJPY24DEC2021") == Listing(Instrument("BTC", "JPY", FUTURE, "BTCJPY24DEC2021"))
    assert index.get("BTC_EUR") == Listing(Instrument("BTC", "EUR", SPOT, "BTC_EUR"))  # from the EU list


def test_bitmex() -> None:
    index = listed(scheme_for("BITMEX"), "BITMEX.0")
    assert len(index) == 34 and kinds(index) == {"PERP": 23, "FUTURE": 11}
    assert index.get("XBTUSD") == Listing(Instrument("BTC", "USD", PERP, "XBTUSD"), "0.5", "100")
    z21 = Listing(Instrument("BTC", "USD", FUTURE, "XBTZ21"), "0.5", "100", at("2021-12-31T12:00:00"))
    assert index.get("XBTZ21") == z21
    # altcoin futures are quoted in bitcoin, with ticks a float would spell 1e-08
    assert index.get("XRPU21") == Listing(
        Instrument("XRP", "BTC", FUTURE, "XRPU21"), "0.00000001", "1", at("2021-09-24T12:00:00")
    )


def test_bitstamp() -> None:
    index = listed(scheme_for("BITSTAMP"), "BITSTAMP.0")
    assert len(index) == 140 and kinds(index) == {"SPOT": 140}
    assert index.get("btcusd") == Listing(Instrument("BTC", "USD", SPOT, "btcusd"), "0.01", "0.00000001")


def test_bybit_legacy_symbols() -> None:
    index = listed(scheme_for("BYBIT"), "BYBIT.0")
    assert len(index) == 15 and kinds(index) == {"PERP": 13, "FUTURE": 2}
    assert index.get("BTCUSD") == Listing(Instrument("BTC", "USD", PERP, "BTCUSD"), "0.5", "1")
    assert index.get("BTCUSDM21") == Listing(Instrument("BTC", "USD", FUTURE, "BTCUSDM21"), "0.5", "1")
    eth = index.get("ETHUSDT")
    assert eth is not None and eth.instrument == Instrument("ETH", "USDT", PERP, "ETHUSDT")


def test_bybit_v5_categories() -> None:
    bybit = scheme_for("BYBIT")
    linear = {
        "retCode": 0,
        "result": {
            "category": "linear",
            "list": [
                {
                    "symbol": "BTC-28MAR25",
                    "contractType": "LinearFutures",
                    "status": "Trading",
                    "baseCoin": "BTC",
                    "quoteCoin": "USDC",
                    "deliveryTime": "1743148800000",
                    "priceFilter": {"tickSize": "0.50"},
                    "lotSizeFilter": {"qtyStep": "0.001"},
                },
                {
                    "symbol": "BTCUSDT",
                    "contractType": "LinearPerpetual",
                    "status": "Trading",
                    "baseCoin": "BTC",
                    "quoteCoin": "USDT",
                    "deliveryTime": "0",
                    "priceFilter": {"tickSize": "0.10"},
                    "lotSizeFilter": {"qtyStep": "0.001"},
                },
            ],
        },
    }
    spot = {
        "retCode": 0,
        "result": {
            "category": "spot",
            "list": [
                {
                    "symbol": "BTCUSDT",
                    "status": "Trading",
                    "baseCoin": "BTC",
                    "quoteCoin": "USDT",
                    "priceFilter": {"tickSize": "0.01"},
                    "lotSizeFilter": {"basePrecision": "0.000001"},
                }
            ],
        },
    }
    index = ListingIndex(bybit.instruments_from_list(bybit.list_paths[0], linear))
    index.extend(bybit.instruments_from_list(bybit.list_paths[2], spot))
    dated = index.get("BTC-28MAR25")
    assert dated == Listing(Instrument("BTC", "USDC", FUTURE, "BTC-28MAR25"), "0.50", "0.001", 1743148800.0)
    # one name in two categories: the perpetual stands, as from_symbol reads it
    perp = index.get("BTCUSDT")
    assert perp is not None and perp.instrument.market_type is PERP and perp.expiry is None
    # a kind level4 has no market type for is left out; an entry with no name refuses the answer
    option = {"symbol": "BTC-28MAR25-80000-C", "contractType": "", "baseCoin": "BTC", "quoteCoin": "USDC"}
    assert bybit.instruments_from_list(bybit.list_paths[0], {"result": {"category": "option", "list": [option]}}) == []
    with pytest.raises(ListingError, match="not a Bybit instrument"):
        bybit.instruments_from_list(
            bybit.list_paths[0], {"result": {"category": "linear", "list": [{"baseCoin": "BTC"}]}}
        )


def test_coinbase() -> None:
    index = listed(scheme_for("COINBASE"), "COINBASE.0")
    assert len(index) == 162 and kinds(index) == {"SPOT": 162}
    assert index.get("BTC-GBP") == Listing(Instrument("BTC", "GBP", SPOT, "BTC-GBP"), "0.01", "0.00000001")
    assert index.get("SKL-EUR") == Listing(Instrument("SKL", "EUR", SPOT, "SKL-EUR"), "0.0001", "0.1")


def test_deribit() -> None:
    index = listed(scheme_for("DERIBIT"), "DERIBIT.0")
    assert len(index) == 1017 and kinds(index) == {"OPTION": 980, "FUTURE": 18, "PERP": 19}
    assert index.get("BTC-PERPETUAL") == Listing(Instrument("BTC", "USD", PERP, "BTC-PERPETUAL"), "0.5", "10")
    sep = at("2021-09-24T08:00:00")
    assert index.get("BTC-24SEP21") == Listing(Instrument("BTC", "USD", FUTURE, "BTC-24SEP21"), "0.5", "10", sep)
    # options are priced in the coin itself
    put = Listing(Instrument("BTC", "BTC", OPTION, "BTC-24SEP21-8000-P"), "0.0005", "0.1", sep)
    assert index.get("BTC-24SEP21-8000-P") == put


def test_gemini_names_and_details() -> None:
    gemini = scheme_for("GEMINI")
    lines = capture("GEMINI.0").read_text().splitlines()
    names = next(line for line in lines if line.startswith("https://api.gemini.com/v1/symbols -> "))
    from_names = gemini.instruments_from_list("/v1/symbols", orjson.loads(names.partition(": ")[2]))
    assert len(from_names) == 71 and all(x.tick_size is None for x in from_names)
    index = listed(gemini, "GEMINI.0")
    assert len(index) == 71 and kinds(index) == {"SPOT": 71}
    # A symbol's details replace the bare name: quote_increment is the tick, tick_size the lot.
    assert index.get("BTCUSD") == Listing(Instrument("BTC", "USD", SPOT, "BTCUSD"), "0.01", "0.00000001")
    gusd = index.get("BTCGUSD")
    assert gusd is not None and gusd.trading is False  # "closed"


def test_hitbtc_api2_and_api3() -> None:
    hitbtc = scheme_for("HITBTC")
    legacy = listed(hitbtc, "HITBTC.0")
    assert len(legacy) == 1242 and kinds(legacy) == {"SPOT": 1242}
    # HitBTC's USD is Tether
    assert legacy.get("MTXUSD") == Listing(Instrument("MTX", "USDT", SPOT, "MTXUSD"), "0.0000001", "1")
    fmfw = listed(hitbtc, "FMFW.0")
    assert len(fmfw) == 424 and kinds(fmfw) == {"SPOT": 423, "PERP": 1}
    assert fmfw.get("BTCUSDT_PERP") == Listing(Instrument("BTC", "USDT", PERP, "BTCUSDT_PERP"), "0.01", "0.0001")
    assert fmfw.get("DCRETH") == Listing(Instrument("DCR", "ETH", SPOT, "DCRETH"), "0.000001", "0.001")


def test_kraken() -> None:
    index = listed(scheme_for("KRAKEN", "v1"), "KRAKEN.0")
    assert len(index) == 293 and kinds(index) == {"SPOT": 293}
    assert index.get("XBT/USD") == Listing(Instrument("BTC", "USD", SPOT, "XBT/USD"), "0.1", "0.00000001")
    v2 = listed(scheme_for("KRAKEN"), "KRAKEN.0")  # the same list, as v2 names the pairs
    assert len(v2) == 293
    assert v2.get("BTC/USD") == Listing(Instrument("BTC", "USD", SPOT, "BTC/USD"), "0.1", "0.00000001")
    assert index.get("WAVES/EUR") == Listing(Instrument("WAVES", "EUR", SPOT, "WAVES/EUR"), "0.0001", "0.00000001")


def test_kraken_futures() -> None:
    index = listed(kraken_futures, "KRAKEN_FUTURES.0")
    assert len(index) == 17 and kinds(index) == {"PERP": 5, "FUTURE": 12}  # indices left out
    assert index.get("PI_XBTUSD") == Listing(Instrument("BTC", "USD", PERP, "PI_XBTUSD"), "0.5")
    sep = at("2021-09-24T15:00:00")
    assert index.get("FI_XBTUSD_210924") == Listing(
        Instrument("BTC", "USD", FUTURE, "FI_XBTUSD_210924"), "0.5", None, sep
    )


def test_okx() -> None:
    index = listed(scheme_for("OKX"), "OKX.0")
    # each list was recorded five times over: one listing per instrument
    assert len(index) == 1479 and kinds(index) == {"SPOT": 513, "PERP": 166, "FUTURE": 104, "OPTION": 696}
    assert index.get("BTC-USDT") == Listing(Instrument("BTC", "USDT", SPOT, "BTC-USDT"), "0.1", "0.00000001")
    assert index.get("BTC-USD-SWAP") == Listing(Instrument("BTC", "USD", PERP, "BTC-USD-SWAP"), "0.1", "1")
    may = at("2022-05-27T08:00:00")
    assert index.get("BTC-USD-220527") == Listing(Instrument("BTC", "USD", FUTURE, "BTC-USD-220527"), "0.1", "1", may)
    call = Listing(Instrument("BTC", "USD", OPTION, "BTC-USD-220527-30000-C"), "0.0005", "1", may)
    assert index.get("BTC-USD-220527-30000-C") == call


def test_poloniex() -> None:
    index = listed(scheme_for("POLONIEX"), "POLONIEX.0")
    assert len(index) == 524 and kinds(index) == {"SPOT": 524}
    assert index.get("BTC_USDT") == Listing(Instrument("BTC", "USDT", SPOT, "BTC_USDT"), "0.01", "0.000001")


def test_every_api_of_every_venue_reads_a_list() -> None:
    for name in names():
        for scheme in schemes_of(name):
            assert scheme.list_paths, f"{name} {scheme.api} names no list to fetch"
            assert scheme.list_url or scheme.rest_url, f"{name} {scheme.api} has no URL to fetch its list from"


def test_list_paths_match_as_recorded() -> None:
    assert answers_list(("/public/symbol",), "/api/2/public/symbol")
    assert answers_list(("/v1/symbols",), "/v1/symbols/details/btcusd")
    assert answers_list(("/api/v5/public/instruments?instType=SPOT",), "/api/v5/public/instruments?instType=SWAP")
    assert not answers_list(("/api/v3/exchangeInfo",), "/api/v3/depth?symbol=NKNUSDT&limit=1000")
    assert not answers_list(("/v2/conf/pub:list:pair:exchange",), "/v2/conf/pub:list:currency")


def test_sizes_are_exact_text() -> None:
    assert decimal_text(1e-08) == "0.00000001"
    assert decimal_text(0.0005) == "0.0005"
    assert decimal_text(10.0) == "10"
    assert decimal_text(100) == "100"
    assert decimal_text("0.00010000") == "0.00010000"
    assert decimal_text(None) is None and decimal_text("") is None
    assert decimals_step(2) == "0.01" and decimals_step(0) == "1" and decimals_step(-1) == "10"
    with pytest.raises(ListingError):
        decimal_text("abc")
    with pytest.raises(ListingError):
        decimal_text(-1)


@pytest.mark.parametrize("body", [{}, {"symbols": {}}, [], "no"])
def test_a_list_in_another_shape_is_refused(body: object) -> None:
    with pytest.raises(ListingError):
        scheme_for("BINANCE").instruments_from_list("/api/v3/exchangeInfo", body)
