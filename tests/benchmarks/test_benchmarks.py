"""The benchmarks measure what they say: the load generator's frames are
work the Coinbase scheme accepts in full, and the hot-path part replays a
capture through the same code as `level4 replay`."""

from __future__ import annotations

import orjson
import pytest

from benchmarks import hotpath, loadgen, soak, venue_pacing
from level4.feed.bookkeeper import BookKeeper
from level4.feed.events import TopChange
from level4.feed.translator import ConnectionWork, Translator
from level4.replay.replayer import replay
from tests.captures import CAPTURES, capture
from translations import scheme_for
from translations.protocol import Instruction


def unframe(frame: bytes) -> bytes:
    """The payload of an unmasked text frame as loadgen.text_frame builds it."""
    assert frame[0] == 0x81
    n = frame[1]
    if n == 126:
        return frame[4:]
    if n == 127:
        return frame[10:]
    return frame[2:]


def test_load_generator_frames_are_all_book_and_trade_work() -> None:
    scheme = scheme_for("COINBASE")
    instrument = scheme.instrument("BTC", "USD", scheme.market_types[0])
    translator = Translator(scheme, [instrument])
    keeper = BookKeeper([instrument.symbol], None)
    market = loadgen.Market(instrument.symbol, seed=3)
    frames = [market.snapshot(1.0), *(unframe(f) for f in market.frames(2000, loadgen.iso(2.0)))]
    frames.append(unframe(market.heartbeat(loadgen.iso(3.0))))
    assert len(frames[1]) < 126 < len(frames[0])  # both frame length forms are exercised below
    assert orjson.loads(unframe(loadgen.text_frame(frames[0]))) == orjson.loads(frames[0])
    events: list[object] = []
    work = ConnectionWork()
    for raw in frames:
        book_work: list[Instruction] = []
        translator.feed_raw(raw, book_work, work)
        keeper.apply(book_work, events, [])  # type: ignore[arg-type]
    assert translator.malformed == 0 and translator.resyncs == 0 and work.reconnect is None
    assert translator.trades == 200
    assert sum(type(e) is TopChange for e in events) > 200
    book = keeper.books[instrument.symbol]
    assert book.synchronised and not book.crossed()


@pytest.mark.skipif(not CAPTURES.is_dir(), reason="no captures")
def test_hot_path_times_the_replayer_over_every_frame() -> None:
    (venue,) = [v for v in hotpath.VENUES if v.label == "BITSTAMP"]
    files = hotpath.level4_files(CAPTURES, venue)
    assert any(".http." in f.name for f in files)  # the REST snapshots come along
    frames, seconds = hotpath.time_level4(venue, files, 1)
    _, summary = replay(scheme_for("BITSTAMP"), [capture("BITSTAMP.ws.1.0"), *files[1:]])
    assert frames == summary.frames and seconds > 0
    assert any("BITSTAMP" in row[0] for row in hotpath.table([hotpath.Result(venue, frames, seconds, seconds)]).rows)
    assert summary.trades > 0


def test_the_soak_table_averages_the_venues_and_judges_each_rate_by_its_goal() -> None:
    rows = [
        soak.Uptime("A", 0.01, 0.99, 10, 10),
        soak.Uptime("B", 0.01, 0.93, 12, 12),
        soak.Uptime("A", 0.05, 0.70, 50, 50),
        soak.Uptime("B", 0.05, 0.80, 60, 61),
    ]
    table = soak.uptime_table(rows)
    alls = [r for r in table.rows if r[1] == "all"]
    assert alls == [
        ["0.01", "all", "22", "22", "96.0% (goal >= 95%: met)"],
        ["0.05", "all", "110", "111", "75.0% (goal >= 80%: not met)"],
    ]


@pytest.mark.slow
def test_the_soak_part_sees_every_cut_and_the_time_it_costs() -> None:
    """A short real run: no cuts, always synchronised; many cuts, each counted
    and reconnected, and some time unsynchronised."""
    calm, cut = soak.uptime(seconds=3.0, rates=(0.0, 0.2), names=("COINBASE",))
    assert (calm.cuts, calm.reconnects, calm.share) == (0, 0, 1.0)
    assert cut.cuts > 5 and cut.reconnects >= cut.cuts - 1 and 0.0 < cut.share < 1.0


def test_venue_pacing_lays_a_start_out_within_the_limits() -> None:
    connected, fetched, heaviest = venue_pacing.startup("BINANCE", 500)
    assert connected == 300 * 1.1  # 300 attempts in the first window, the other 200 one paced window later
    assert fetched is not None and fetched > connected  # each snapshot after its market's connection
    assert 0.9 <= heaviest <= 1.0  # the weight budget used, never exceeded
    connected, fetched, heaviest = venue_pacing.startup("BYBIT", 500)
    assert (connected, fetched) == (0.0, None)  # 500 attempts in 5 minutes: all at once
    table, (send_us, rest_us) = venue_pacing.run(markets=50, turns=100)
    # 13 venues, Binance's two futures APIs, Kraken's Futures and its spot v1
    assert len(table.rows) == 17 and send_us > 0 and rest_us > 0
