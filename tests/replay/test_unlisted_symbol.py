"""One symbol replay cannot place fails its own market, never the session: a copy of
Binance's recorded session (written to a temporary directory) with two markets added,
one the venue's list names with a quote no guess knows (BTCUSDB), one nowhere listed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson

from tests.captures import capture

ORIGINAL = ("NKN-USDT", "BLZ-ETH", "LRC-BTC", "RUNE-EUR")


def replay(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "level4", "replay", *args], capture_output=True, timeout=120)


def _frame(time: float, symbol: str, first: int, last: int, bids: list[list[str]]) -> str:
    data = {"e": "depthUpdate", "E": 1, "s": symbol, "U": first, "u": last, "b": bids, "a": []}
    return f"{time}: " + orjson.dumps({"stream": f"{symbol.lower()}@depth@100ms", "data": data}).decode()


def _session(directory: Path, with_list: bool, list_btcusdb: bool = True) -> Path:
    """The recorded session, BTCUSDB and ETHUSDB subscribed beside its own markets."""
    lines = [line for line in capture("BINANCE.ws.1.0").read_text().splitlines() if line.strip()]
    lines[0] = lines[0].replace("?streams=", "?streams=btcusdb@depth@100ms/ethusdb@depth@100ms/", 1)
    t1 = float(lines[1].split(": ", 1)[0]) + 0.0001
    t_end = float(lines[-1].split(": ", 1)[0]) + 0.1
    added = [
        _frame(t1, "BTCUSDB", 101, 101, [["30000.00", "1.5"]]),
        _frame(t1 + 0.00001, "ETHUSDB", 7, 7, [["2000.00", "1.0"]]),
    ]
    lines[2:2] = added
    lines.append(_frame(t_end, "BTCUSDB", 102, 102, [["30001.00", "0.25"], ["29999.00", "0"]]))
    ws = directory / "BINANCE.ws.1.0"
    ws.write_text("\n".join(lines) + "\n")
    snapshot = {"lastUpdateId": 100, "bids": [["29999.00", "2.0"], ["29998.00", "3.0"]], "asks": [["30002.00", "1.0"]]}
    http = capture("BINANCE.http.0.0").read_text().rstrip("\n") + "\n"
    http += f"https://api.binance.com/api/v3/depth?symbol=BTCUSDB&limit=1000 -> {t1 + 0.001}: "
    http += orjson.dumps(snapshot).decode() + "\n"
    (directory / "BINANCE.http.0.0").write_text(http)
    if with_list:
        listed = []
        for line in capture("BINANCE.0").read_text().splitlines():
            head, sep, body = line.partition(": ")
            if line.startswith("https://") and list_btcusdb:
                info = orjson.loads(body)
                entry = dict(info["symbols"][0], symbol="BTCUSDB", baseAsset="BTC", quoteAsset="USDB")
                entry["filters"] = [{"filterType": "PRICE_FILTER", "tickSize": "0.01000000"}]
                info["symbols"].append(entry)
                body = orjson.dumps(info).decode()
            listed.append(head + sep + body)
        (directory / "BINANCE.0").write_text("\n".join(listed) + "\n")
    return ws


def _books(path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[bytes], dict[str, dict[str, object]]]:
    out = path.parent / "books.json"
    done = replay("--venue", "BINANCE", str(path), "--books-json", str(out), *extra)
    return done, orjson.loads(out.read_bytes()) if out.exists() else {}


def test_an_unlisted_symbol_fails_alone_and_a_listed_one_resolves_through_the_list(tmp_path: Path) -> None:
    _, recorded = _books(capture("BINANCE.ws.1.0"))
    # The recorded session itself replays through its list, as it did by guessing.
    assert set(recorded) == {f"BINANCE.SPOT:{p}" for p in ORIGINAL}

    done, books = _books(_session(tmp_path, with_list=True))
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout.splitlines()[-1])
    assert summary["unplaced"] == 1
    stderr = done.stderr.decode()
    assert "BINANCE market ETHUSDB left out: 'ETHUSDB' is not in BINANCE's instrument list" in stderr
    assert "Traceback" not in stderr
    # Every other market replays exactly as in the recorded session.
    for pair in ORIGINAL:
        assert books[f"BINANCE.SPOT:{pair}"] == recorded[f"BINANCE.SPOT:{pair}"]
    # USDB is no quote any guess knows: the list alone places BTCUSDB, whose book is whole.
    listed = books["BINANCE.SPOT:BTC-USDB"]
    assert listed["synchronised"] is True
    assert listed["bids"] == [["30001.00", "0.25"], ["30000.00", "1.5"], ["29998.00", "3.0"]]
    assert listed["asks"] == [["30002.00", "1.0"]]
    assert not any("ETH-USDB" in tag for tag in books)


def test_with_no_list_at_hand_the_spelling_is_read_and_what_it_cannot_place_fails_alone(tmp_path: Path) -> None:
    _, recorded = _books(capture("BINANCE.ws.1.0"))
    done, books = _books(_session(tmp_path, with_list=False))
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout.splitlines()[-1])
    assert summary["unplaced"] == 2 and summary["markets"] == 4
    stderr = done.stderr.decode()
    assert "market BTCUSDB left out: no known quote asset ends the Binance symbol 'BTCUSDB'" in stderr
    assert "market ETHUSDB left out" in stderr
    assert set(books) == set(recorded)
    assert all(books[tag] == recorded[tag] for tag in recorded)


def test_a_list_that_names_none_of_the_added_symbols_places_neither(tmp_path: Path) -> None:
    done, books = _books(_session(tmp_path, with_list=True, list_btcusdb=False))
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout.splitlines()[-1])["unplaced"] == 2
    assert "BTCUSDB" in done.stderr.decode() and len(books) == 4


def test_a_list_file_in_another_shape_is_refused_clearly(tmp_path: Path) -> None:
    ws = _session(tmp_path, with_list=False)
    shutil.copy(capture("BINANCE.0"), tmp_path / "BINANCE.0")
    broken = (tmp_path / "BINANCE.0").read_text().replace('"symbols":[', '"symbols":{"x":[', 1)
    (tmp_path / "BINANCE.0").write_text(broken)
    done = replay("--venue", "BINANCE", str(ws))
    assert done.returncode == 2
    assert "/api/v3/exchangeInfo" in done.stderr.decode() and "Traceback" not in done.stderr.decode()


def test_a_price_off_the_listed_tick_is_reported_never_rounded(tmp_path: Path) -> None:
    recorded, _ = _books(capture("BINANCE.ws.1.0"))
    recorded_summary = orjson.loads(recorded.stdout.splitlines()[-1])
    # Binance's recorded list gives NKNUSDT a tick of 0.0001; deep levels from before the
    # tick was widened still sit at finer prices, and are reported as they are.
    assert recorded_summary["off_tick"] == 34
    assert "market NKNUSDT: 34 prices off its listed tick 0.00010000: 0.25974000" in recorded.stderr.decode()

    ws = _session(tmp_path, with_list=True)
    t_last = float(ws.read_text().splitlines()[-1].split(": ", 1)[0]) + 0.1
    with ws.open("a") as fh:
        fh.write(_frame(t_last, "BTCUSDB", 103, 103, [["30000.005", "0.5"]]) + "\n")
    done, books = _books(ws)
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout.splitlines()[-1])["off_tick"] == 34 + 1
    assert "market BTCUSDB: 1 prices off its listed tick 0.01000000: 30000.005" in done.stderr.decode()
    bids = books["BINANCE.SPOT:BTC-USDB"]["bids"]
    assert ["30000.005", "0.5"] in bids  # kept exactly as sent


def test_a_list_file_with_no_answer_of_this_api_leaves_the_spelling_to_place_symbols(tmp_path: Path) -> None:
    ws = _session(tmp_path, with_list=False)
    configuration = capture("BINANCE_FUTURES.0").read_text().splitlines()
    (tmp_path / "BINANCE.0").write_text("\n".join(configuration) + "\n")  # USD-M's list: no spot answer
    done, books = _books(ws)
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout.splitlines()[-1])["unplaced"] == 2  # BTCUSDB and ETHUSDB, by their spelling
    assert len(books) == 4
