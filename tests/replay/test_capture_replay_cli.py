"""`level4 replay` as a user runs it, on the recorded sessions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.captures import capture


def replay(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "level4", "replay", *args], capture_output=True, timeout=120)


def test_binance_replay_fetches_recorded_snapshots_and_writes_books(tmp_path: Path) -> None:
    out = tmp_path / "books.json"
    done = replay(
        "--venue", "binance", "--format", "cryptofeed", str(capture("BINANCE.ws.1.0")), "--books-json", str(out)
    )
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout.splitlines()[-1])
    assert summary["frames"] == 265 and summary["markets"] == 4 and summary["trades"] == 2
    assert summary["resyncs"] == 0 and summary["unsynchronised"] == []
    assert summary["seconds"] > 0
    books = orjson.loads(out.read_bytes())
    assert set(books) == {f"BINANCE.SPOT:{p}" for p in ("NKN-USDT", "BLZ-ETH", "LRC-BTC", "RUNE-EUR")}
    for book in books.values():
        assert book["synchronised"] is True
        bids, asks = book["bids"], book["asks"]
        assert bids and asks
        # best first, exact strings as the venue sent them
        assert [float(p) for p, _ in bids] == sorted((float(p) for p, _ in bids), reverse=True)
        assert [float(p) for p, _ in asks] == sorted(float(p) for p, _ in asks)
        assert float(bids[0][0]) < float(asks[0][0])
        assert all(isinstance(p, str) and isinstance(s, str) for p, s in bids + asks)


def test_repeat_replays_from_a_fresh_state() -> None:
    once = orjson.loads(replay("--venue", "KRAKEN", str(capture("KRAKEN.ws.50.0"))).stdout.splitlines()[-1])
    thrice = orjson.loads(
        replay("--venue", "KRAKEN", "--repeat", "3", str(capture("KRAKEN.ws.50.0"))).stdout.splitlines()[-1]
    )
    assert thrice["frames"] == 3 * once["frames"]
    assert thrice["markets"] == once["markets"] == 10
    assert once["checksums_verified"] == thrice["checksums_verified"] > 4000
    assert once["checksum_failures"] == 0


def test_a_session_that_lost_sync_says_so() -> None:
    done = replay("--venue", "BITFLYER", str(capture("BITFLYER.ws.1.0")))
    summary = orjson.loads(done.stdout.splitlines()[-1])
    # FX_BTC_JPY's book broke mid-session; a later venue snapshot made it whole again
    assert summary["resyncs"] >= 1


def test_bad_invocations_are_refused_clearly(tmp_path: Path) -> None:
    done = replay("--venue", "FTX", str(capture("BINANCE.ws.1.0")))
    assert done.returncode == 2 and b"no translation scheme for venue 'FTX'" in done.stderr
    done = replay("--venue", "BINANCE", str(tmp_path / "missing"))
    assert done.returncode == 2 and b"no such file" in done.stderr
    torn = tmp_path / "BROKEN.ws.1.0"
    torn.write_text("this is not a capture line\n")
    done = replay("--venue", "COINBASE", str(torn))
    assert done.returncode == 2 and b"not a capture line" in done.stderr


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    lines = capture("COINBASE.ws.28.0").read_text().splitlines(keepends=True)[:200]
    torn = tmp_path / "COINBASE.ws.1.0"
    torn.write_text("".join(lines) + lines[200 - 1][:25])  # a last record cut short
    done = replay("--venue", "COINBASE", str(torn))
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout.splitlines()[-1])
    assert summary["frames"] == sum(1 for line in lines if line[:1].isdigit())


def test_binance_futures_sessions_replay_under_their_real_market_types(tmp_path: Path) -> None:
    """`--venue BINANCE` on a futures session: the API is told from the host it spoke to
    (fstream / dstream), and its markets are named PERP and FUTURE, never SPOT."""
    expected = {
        "BINANCE_FUTURES": {f"BINANCE.PERP:{p}-USDT" for p in ("SUSHI", "AKRO", "KEEP", "CTK")},
        "BINANCE_DELIVERY": {
            *(f"BINANCE.PERP:{p}-USD" for p in ("LINK", "TRX", "ETC", "XRP", "EOS", "BCH")),
            *(f"BINANCE.FUTURE:{s}" for s in ("LINKUSD_211231", "BTCUSD_211231", "BCHUSD_210924", "ETHUSD_210924")),
        },
    }
    for name, tags in expected.items():
        out = tmp_path / f"{name}.json"
        done = replay("--venue", "BINANCE", str(capture(f"{name}.ws.1.0")), "--books-json", str(out))
        assert done.returncode == 0, done.stderr
        summary = orjson.loads(done.stdout.splitlines()[-1])
        assert summary["resyncs"] == 0 and summary["malformed"] == 0 and summary["unsynchronised"] == []
        books = orjson.loads(out.read_bytes())
        assert set(books) == tags
        assert all(b["synchronised"] and b["bids"] and b["asks"] for b in books.values())


def test_kraken_futures_session_replays_as_futures_not_spot(tmp_path: Path) -> None:
    out = tmp_path / "books.json"
    done = replay("--venue", "KRAKEN", str(capture("KRAKEN_FUTURES.ws.1.0")), "--books-json", str(out))
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout.splitlines()[-1])
    assert summary["malformed"] == 0 and summary["resyncs"] == 0 and summary["markets"] == 10
    books = orjson.loads(out.read_bytes())
    assert {t.partition(":")[0] for t in books} == {"KRAKEN.PERP", "KRAKEN.FUTURE"}
    assert {"KRAKEN.PERP:ETH-USD", "KRAKEN.FUTURE:FI_XBTUSD_210924"} <= set(books)


def test_a_session_in_another_dialect_fails_and_names_the_venue_that_speaks_it() -> None:
    done = replay("--venue", "COINBASE", str(capture("KRAKEN_FUTURES.ws.1.0")))
    assert done.returncode != 0
    summary = orjson.loads(done.stdout.splitlines()[-1])
    assert summary["malformed"] == summary["frames"] == 7175
    err = done.stderr.decode()
    assert "not in COINBASE's dialect" in err and "futures.kraken.com, which is KRAKEN futures" in err
    assert "try --venue KRAKEN" in err and "Traceback" not in err


def test_channels_the_book_does_not_use_are_ignored_not_malformed() -> None:
    """The USD-M session carries bookTicker and kline streams beside depth and trades."""
    done = replay("--venue", "BINANCE", str(capture("BINANCE_FUTURES.ws.1.0")))
    summary = orjson.loads(done.stdout.splitlines()[-1])
    assert done.returncode == 0 and summary["malformed"] == 0
    text = capture("BINANCE_FUTURES.ws.1.0").read_text()
    unused = text.count('"e":"bookTicker"') + text.count('"e":"kline"')
    assert unused > 0 and summary["ignored"] >= unused
