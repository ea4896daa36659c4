"""The resync policy: the remedy for each kind of loss given what a venue
supports, carried out by the Translator for every scheme; and every
scheme's remedies backed by the members they need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

import translations
from level4.feed import resync_policy
from level4.feed.translator import ConnectionWork, Translator
from tests.simulator.test_end_to_end_venues import VENUES
from translations.protocol import (
    BookFault,
    Desync,
    Fetch,
    Instruction,
    Instrument,
    Loss,
    Lost,
    MarketType,
    Reconnect,
    Remedy,
)

RESUBSCRIBE = frozenset({Remedy.RESUBSCRIBE})
REFETCH = frozenset({Remedy.REFETCH})
BOTH = RESUBSCRIBE | REFETCH
NONE: frozenset[Remedy] = frozenset()


@pytest.mark.parametrize("kind", [Loss.GAP, Loss.CHECKSUM, Loss.MALFORMED])
def test_a_one_market_loss_takes_the_gentlest_remedy_the_venue_supports(kind: Loss) -> None:
    assert resync_policy.choose(kind, RESUBSCRIBE) is Remedy.RESUBSCRIBE
    assert resync_policy.choose(kind, BOTH) is Remedy.RESUBSCRIBE
    assert resync_policy.choose(kind, REFETCH) is Remedy.REFETCH
    assert resync_policy.choose(kind, NONE) is Remedy.RENEW


@pytest.mark.parametrize("supported", [NONE, RESUBSCRIBE, REFETCH, BOTH])
def test_refusals_back_off_and_broken_connections_are_renewed_whatever_the_venue_supports(
    supported: frozenset[Remedy],
) -> None:
    assert resync_policy.choose(Loss.VENUE_ERROR, supported) is Remedy.BACK_OFF
    assert resync_policy.choose(Loss.SNAPSHOT_FAILED, supported) is Remedy.BACK_OFF
    for kind in (Loss.BOOK_FAULT, Loss.SCHEME_ERROR, Loss.STALE, Loss.DISCONNECT):
        assert resync_policy.choose(kind, supported) is Remedy.RENEW


class Fake:
    """A scheme that reports what it is told to: one frame, one instruction list."""

    name = "FAKE"
    remedies = BOTH

    def __init__(self, frames: list[str] | None = None) -> None:
        self.frames = ["unsub", "sub"] if frames is None else frames
        self.resubscribed: list[str] = []

    def initial_state(self, instruments: Sequence[Instrument]) -> dict[str, Any]:
        return {"next": []}

    def translate(self, frame: Any, state: dict[str, Any]) -> tuple[list[Instruction], dict[str, Any]]:
        if frame == "boom":
            raise KeyError("boom")
        return list(frame), state

    def resubscribe_msg(self, state: dict[str, Any], symbol: str) -> list[str]:
        self.resubscribed.append(symbol)
        return self.frames

    def refetch(self, state: dict[str, Any], symbol: str) -> list[Fetch]:
        return [Fetch(symbol, f"/depth/{symbol}")]


A = Instrument("BTC", "USD", MarketType.SPOT, "A")
B = Instrument("ETH", "USD", MarketType.SPOT, "B")


def run(scheme: Any, frame: Any) -> tuple[list[Instruction], ConnectionWork]:
    tr = Translator(scheme, [A, B])
    book: list[Instruction] = []
    work = ConnectionWork()
    tr.feed(frame, book, work)
    return book, work


def test_the_translator_desyncs_the_book_then_sends_the_schemes_resubscribe() -> None:
    scheme = Fake()
    book, work = run(scheme, [Lost("A", Loss.GAP, "sequence gap 1 -> 3")])
    assert book == [Desync("A", "sequence gap 1 -> 3")]
    assert [s.frames for s in work.sends] == [["unsub", "sub"]] and scheme.resubscribed == ["A"]
    assert work.reconnect is None and work.fetches == []


def test_without_frames_to_resubscribe_with_the_connection_is_renewed_at_once() -> None:
    book, work = run(Fake(frames=[]), [Lost("A", Loss.CHECKSUM, "checksum")])
    assert book == [Desync("A", "checksum")] and work.sends == []
    assert work.reconnect == Reconnect("checksum", backoff=False)


def test_a_venue_that_only_refetches_gets_its_snapshot_fetched() -> None:
    scheme = Fake()
    scheme.remedies = REFETCH
    book, work = run(scheme, [Lost("B", Loss.MALFORMED, "unreadable")])
    assert book == [Desync("B", "unreadable")] and work.fetches == [Fetch("B", "/depth/B")] and work.sends == []


def test_a_refusal_renews_the_connection_after_the_backoff_and_one_reconnect_says_so() -> None:
    book, work = run(Fake(), [Lost("A", Loss.GAP, "gap"), Lost("B", Loss.VENUE_ERROR, "subscription refused")])
    assert book == [Desync("A", "gap"), Desync("B", "subscription refused")]
    assert work.reconnect is not None and work.reconnect.backoff  # the refusal's wait wins


def test_a_refused_level_and_a_scheme_that_raises_renew_the_connection() -> None:
    book, work = run(Fake(), BookFault("A", "bad level"))
    assert book == [Desync("A", "bad level")] and work.reconnect == Reconnect("bad level")
    assert len(work.malformed) == 1
    book, work = run(Fake(), "boom")
    assert [type(i) for i in book] == [Desync, Desync] and {i.symbol for i in book if isinstance(i, Desync)} == {
        "A",
        "B",
    }
    assert work.reconnect is not None and not work.reconnect.backoff and len(work.malformed) == 1


def test_a_connection_that_ended_only_desyncs_it_renews_itself() -> None:
    scheme = Fake()
    for kind in (Loss.DISCONNECT, Loss.STALE):
        out = resync_policy.respond(Lost("A", kind, "closed by venue"), BOTH, scheme, {})  # type: ignore[arg-type]
        assert out == [Desync("A", "closed by venue")]
    assert scheme.resubscribed == []


def test_a_scheme_promising_a_remedy_it_cannot_carry_out_is_refused_at_once() -> None:
    class Boastful:
        name = "BOASTFUL"
        remedies = RESUBSCRIBE

        def initial_state(self, instruments: Sequence[Instrument]) -> None:
            return None

    with pytest.raises(TypeError, match="resubscribe_msg"):
        Translator(Boastful(), [A])  # type: ignore[arg-type]


def test_one_change_here_changes_every_venue(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy is one place: renew for everything, and OKX (which resubscribes) renews."""
    monkeypatch.setattr(resync_policy, "choose", lambda kind, supported: Remedy.RENEW)
    scheme = translations.scheme_for("OKX")
    inst = scheme.instrument("BTC", "USDT", MarketType.SPOT)
    tr = Translator(scheme, [inst])
    book: list[Instruction] = []
    work = ConnectionWork()
    tr.feed(
        {
            "arg": {"channel": "books", "instId": inst.symbol},
            "action": "update",
            "data": [{"bids": [], "asks": [], "ts": "1", "seqId": 2, "prevSeqId": 1}],
        },
        book,
        work,
    )
    assert [type(i) for i in book] == [Desync] and work.sends == [] and work.reconnect is not None


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_every_scheme_backs_the_remedies_it_lists(venue: str) -> None:
    """resubscribe_msg names the one market (and only a venue that can renew
    one market's subscription lists it); refetch asks for one snapshot at a time."""
    scheme = translations.scheme_for(venue)
    base, quote, kind, _depth = VENUES[venue]
    remedies = resync_policy.supported_remedies(scheme)
    a = scheme.instrument(base, quote, MarketType(kind))
    other = scheme.instrument("ETH", quote, MarketType(kind))
    state = scheme.initial_state([a, other])
    scheme.subscribe_msg(state)
    if Remedy.RESUBSCRIBE in remedies:
        frames = scheme.resubscribe_msg(state, a.symbol)  # type: ignore[attr-defined]
        assert all(isinstance(f, str) for f in frames)
        if venue != "BITFINEX":  # Bitfinex renews a book channel only once the venue has confirmed it
            assert len(frames) == 2 and all(a.symbol in f and other.symbol not in f for f in frames), frames
    if Remedy.REFETCH in remedies:
        first = scheme.refetch(state, a.symbol)  # type: ignore[attr-defined]
        assert [type(f) for f in first] == [Fetch] and first[0].symbol == a.symbol
        assert scheme.refetch(state, a.symbol) == []  # one already out  # type: ignore[attr-defined]
    assert remedies <= BOTH
