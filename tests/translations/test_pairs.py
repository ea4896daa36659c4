"""The shared search for the quote that ends a concatenated symbol."""

from __future__ import annotations

from translations.symbol_pairs import longest_first, split_quote


def test_longest_first_tries_a_quote_before_those_it_ends_with() -> None:
    quotes = longest_first(["USD", "BTC", "FDUSD", "USDT", "ETH"])
    assert quotes == ("FDUSD", "USDT", "USD", "BTC", "ETH")  # equal lengths keep their order
    assert split_quote("ETHFDUSD", quotes) == ("ETH", "FDUSD")
    assert split_quote("ETHFDUSD", ("USD", "FDUSD")) == ("ETHFD", "USD")  # the order given decides


def test_split_quote_needs_a_base_and_a_known_quote() -> None:
    assert split_quote("USDT", ("USDT", "USD")) is None  # nothing left for a base
    assert split_quote("BTCXYZ", ("USDT", "USD")) is None
    assert split_quote("BTCUSD", ("USDT", "USD")) == ("BTC", "USD")
