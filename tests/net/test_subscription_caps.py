"""The caps of shared connections: the venue's documented figures when its
scheme states them, conservative ones until then, and an operator's smaller
cap over both; and which schemes share connections at all."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import translations
from level4.config import Settings
from level4.net.connection_pool import shares_connections
from level4.net.subscription_caps import caps_for
from translations import scheme_for


@dataclass
class Limits:
    streams_per_connection: int | None = None


class WithLimits:
    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits


def test_a_venue_without_stated_limits_gets_its_conservative_figures() -> None:
    binance = caps_for(scheme_for("BINANCE"))
    assert binance.markets_per_connection == 500  # 1024 streams, two a market
    unknown = caps_for(WithLimits("NOWHERE", Limits()))
    assert unknown.markets_per_connection == 50


def test_a_stated_cap_below_the_usual_figure_lowers_it() -> None:
    caps = caps_for(WithLimits("BINANCE", Limits(streams_per_connection=300)))
    assert caps.markets_per_connection == 300
    assert caps.markets_per_request == 100
    assert caps_for(WithLimits("BINANCE", Limits(streams_per_connection=5000))).markets_per_connection == 500


def test_an_operators_cap_lowers_but_never_raises() -> None:
    assert caps_for(scheme_for("COINBASE"), 10).markets_per_connection == 10
    assert caps_for(scheme_for("COINBASE"), 10).markets_per_request == 10
    assert caps_for(scheme_for("COINBASE"), 10_000).markets_per_connection == 100


def test_the_cap_and_the_switch_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVEL4_SUBSCRIPTIONS_PER_CONNECTION", "25")
    monkeypatch.setenv("LEVEL4_SHARED_CONNECTIONS", "0")
    settings = Settings()
    assert settings.subscriptions_per_connection == 25
    assert settings.shared_connections is False
    monkeypatch.delenv("LEVEL4_SUBSCRIPTIONS_PER_CONNECTION")
    monkeypatch.delenv("LEVEL4_SHARED_CONNECTIONS")
    settings = Settings()
    assert settings.subscriptions_per_connection is None
    assert settings.shared_connections is True


class WithoutRouting:
    name = "NOWHERE"

    def route(self, frame: object, conn_state: None) -> tuple[None, None]:
        return None, conn_state


def test_schemes_without_routing_keep_a_connection_per_market() -> None:
    assert not shares_connections(WithoutRouting())  # no connection_state, no unsubscribe_msg
    assert shares_connections(scheme_for("BITFINEX"))
    assert shares_connections(scheme_for("HITBTC"))
    assert shares_connections(scheme_for("BINANCE"))


def test_bitfinex_fills_its_25_channels_with_twelve_markets_of_two_each() -> None:
    bitfinex = caps_for(scheme_for("BITFINEX"))
    assert bitfinex.markets_per_connection * 2 <= translations.limits_for("BITFINEX").streams_per_connection
    assert bitfinex.markets_per_connection == 12
    hitbtc = caps_for(scheme_for("HITBTC"))
    assert hitbtc.markets_per_connection <= translations.limits_for("HITBTC").streams_per_connection


def test_no_connection_carries_more_markets_than_its_venue_states_streams() -> None:
    for name in translations.APIS:
        for scheme in translations.schemes_of(name):
            stated = translations.limits_of(scheme).streams_per_connection
            assert caps_for(scheme).markets_per_connection <= stated, scheme.name
            assert caps_for(scheme, configured=5).markets_per_connection == min(5, stated)
