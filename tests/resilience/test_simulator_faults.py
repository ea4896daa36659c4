"""The simulator's fault injection on its own: what each fault does to the
frames a client is sent, which venues may have which faults, seeding, the
command line and the HTTP control."""

from __future__ import annotations

import argparse
import subprocess
import sys

import httpx
import orjson
import pytest

from level4.simulator import simulator_cli
from level4.simulator.dialects import dialect_for
from level4.simulator.faults import FAMILIES, FAULTS, Faults, Link, Signal, family_of, parse, supported
from tests.support import SimulatorThread, wait_for

FRAMES = [f"frame-{i}" for i in range(200)]


def run(faults: Faults, frames: list[str] = FRAMES) -> tuple[list[str], Signal | None]:
    link = Link()
    out: list[str] = []
    for frame in frames:
        sent, signal = faults.book_frames(link, [frame])
        out += sent
        if signal is not None:
            return out, signal
    return out + faults.release(link), None


def test_no_faults_leaves_frames_alone() -> None:
    assert run(Faults("BYBIT")) == (FRAMES, None)


def test_drop_loses_frames_and_counts_them() -> None:
    faults = Faults("BYBIT", {"drop": 0.2})
    out, _ = run(faults)
    assert len(out) == len(FRAMES) - faults.injected["drop"] > 0
    assert out == [f for f in FRAMES if f in out]  # what is left keeps its order


def test_duplicate_sends_a_frame_twice_in_place() -> None:
    faults = Faults("GEMINI", {"duplicate": 0.2})
    out, _ = run(faults)
    assert len(out) == len(FRAMES) + faults.injected["duplicate"] and faults.injected["duplicate"] > 0
    assert list(dict.fromkeys(out)) == FRAMES


def test_reorder_swaps_a_frame_with_the_next_and_loses_nothing() -> None:
    faults = Faults("BYBIT", {"reorder": 0.2})
    out, _ = run(faults)
    assert sorted(out) == sorted(FRAMES) and out != FRAMES
    swaps = [i for i in range(len(out) - 1) if FRAMES.index(out[i]) > FRAMES.index(out[i + 1])]
    assert len(swaps) == faults.injected["reorder"] > 0


def test_a_held_frame_goes_out_when_the_faults_are_cleared() -> None:
    faults = Faults("BYBIT", {"reorder": 1.0})
    link = Link()
    assert faults.book_frames(link, ["a"]) == ([], None)
    faults.clear()
    assert faults.release(link) == ["a"]
    assert faults.book_frames(link, ["b"]) == (["b"], None)


def test_garbage_is_added_never_instead() -> None:
    faults = Faults("GEMINI", {"garbage": 0.3})
    out, _ = run(faults)
    junk = [f for f in out if f not in FRAMES]
    assert [f for f in out if f in FRAMES] == FRAMES
    assert len(junk) == faults.injected["garbage"] > 10
    kinds = set()
    for frame in junk:
        try:
            parsed = orjson.loads(frame)
        except orjson.JSONDecodeError:
            kinds.add("not json")
            continue
        kinds.add("huge" if len(frame) > 1_000_000 else "wrong shape")
        assert not isinstance(parsed, dict) or "type" not in parsed  # no shape a venue uses
    assert kinds == {"not json", "wrong shape", "huge"}


@pytest.mark.parametrize("fault", ["disconnect", "stall"])
def test_a_cut_or_stall_ends_the_frames_for_good(fault: str) -> None:
    faults = Faults("GEMINI", {fault: 0.05})
    link = Link()
    out, signal = run(faults)
    assert signal is Signal(fault) and faults.injected[fault] == 1
    assert out == FRAMES[: len(out)]
    link.cut, link.stalled = fault == "disconnect", fault == "stall"
    faults.clear()
    assert faults.book_frames(link, ["later"]) == ([], None)


@pytest.mark.parametrize("venue", FAMILIES["checksum"])
def test_checksum_corruption_changes_only_the_checksum(venue: str) -> None:
    name, _, api = venue.partition("/")
    corrupt = dialect_for(name, api).corrupt_checksum  # type: ignore[attr-defined]
    frames = {
        "KRAKEN": '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],'
        '"asks":[{"price":5541.3,"qty":2.507}],"checksum":974942666,"timestamp":"2026-12-07T00:30:00.000000Z"}]}',
        "KRAKEN/v1": '[336,{"a":[["5541.30000","2.50700000","1534614248.456738"]],"c":"974942666"},'
        '"book-10","XBT/USD"]',
        "BITFINEX": '[17082,"cs",-1323284340,12]',
        "OKX": '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],'
        '"ts":"1","checksum":-1,"prevSeqId":1,"seqId":2}]}',
    }
    frame = frames[venue]
    bad = corrupt(frame)
    assert bad is not None and bad != frame
    before, after = orjson.loads(frame), orjson.loads(bad)
    assert str(before).count(",") == str(after).count(",")  # the same shape, one value changed
    assert corrupt('{"event":"heartbeat"}' if venue != "BITFINEX" else '[17082,"hb",13]') is None
    if venue == "OKX":
        assert orjson.loads(bad)["data"][0]["checksum"] not in (0, -1)  # 0 would mean "no checksum"


def test_the_same_seed_injects_the_same_faults() -> None:
    rates = {"drop": 0.1, "duplicate": 0.1, "reorder": 0.1, "garbage": 0.05}
    assert run(Faults("BYBIT", rates, seed=5)) == run(Faults("BYBIT", rates, seed=5))
    assert run(Faults("BYBIT", rates, seed=5)) != run(Faults("BYBIT", rates, seed=6))


def test_per_connection_and_per_request_faults() -> None:
    faults = Faults("BINANCE", {"upgrade": 1.0, "slowsub": 1.0, "rest": 1.0})
    assert {faults.refuse_upgrade() for _ in range(50)} == {429, 500, 502, 503}
    assert faults.subscribe_delay() > 0
    answers = {faults.rest_fault() for _ in range(100)}
    assert {a for a in answers if isinstance(a, int)} == {429, 500, 503}
    assert any(isinstance(a, float) and a >= 10 for a in answers)  # a hang, longer than a client waits
    faults.clear()
    assert (faults.refuse_upgrade(), faults.subscribe_delay(), faults.rest_fault()) == (None, 0.0, None)


def test_every_venue_has_one_family_and_the_faults_its_clients_can_notice() -> None:
    for family, venues in FAMILIES.items():
        for venue in venues:
            assert family_of(venue) == family
            faults = supported(venue)
            assert {"disconnect", "stall", "garbage", "upgrade", "duplicate", "slowsub"} <= faults
            assert ("checksum" in faults) == (family == "checksum")
            assert ("rest" in faults) == (family == "rest")
            assert ("drop" in faults) <= (family in ("sequence", "checksum", "rest"))
    assert "drop" not in supported("KRAKEN")  # its checksums see only the ten best levels
    assert "drop" not in supported("KRAKEN/v1") and "checksum" in supported("KRAKEN/v1")
    assert "drop" not in supported("GEMINI") and "reorder" not in supported("COINBASE")


def test_rates_are_checked() -> None:
    assert parse(" drop=0.5, stall=0 ,") == {"drop": 0.5, "stall": 0.0}
    with pytest.raises(ValueError, match="NAME=RATE"):
        parse("drop")
    with pytest.raises(ValueError, match="must be a number"):
        parse("drop=lots")
    with pytest.raises(ValueError, match="unknown fault 'flood'"):
        Faults("BYBIT", {"flood": 0.1})
    with pytest.raises(ValueError, match="from 0 to 1"):
        Faults("BYBIT", {"drop": 1.5})
    with pytest.raises(ValueError, match="GEMINI cannot have drop faults"):
        Faults("GEMINI", {"drop": 0.1})
    Faults("GEMINI", {"drop": 0.0})  # switching off what is not there is fine


def test_the_command_refuses_faults_a_venue_cannot_have(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(
        venue="gemini",
        symbols="BTC-USD",
        host="127.0.0.1",
        port=0,
        rate=10.0,
        seed=1,
        market_type=None,
        faults="drop=0.1",
        no_limits=False,
    )
    assert simulator_cli.run(args) == 2
    assert "GEMINI cannot have drop faults" in capsys.readouterr().err


@pytest.mark.slow
def test_faults_are_switched_over_http_while_running() -> None:
    with SimulatorThread("bybit", ["BTC-USDT"], rate=200, faults={"drop": 0.5}) as sim:
        answer = httpx.get(f"{sim.http}/control/faults").json()
        assert answer["rates"] == {"drop": 0.5} and answer["venue"] == "BYBIT"
        assert answer["supported"] == [f for f in FAULTS if f in supported("BYBIT")]
        answer = httpx.get(f"{sim.http}/control/faults", params={"clear": 1, "garbage": 0.25}).json()
        assert answer["rates"] == {"garbage": 0.25}
        refused = httpx.get(f"{sim.http}/control/faults", params={"checksum": 0.1})
        assert refused.status_code == 422 and "BYBIT cannot have checksum faults" in refused.json()["detail"]
        assert httpx.get(f"{sim.http}/control/faults").json()["rates"] == {"garbage": 0.25}

        # an upgrade refused with an HTTP error, then accepted once the fault is off
        httpx.get(f"{sim.http}/control/faults", params={"clear": 1, "upgrade": 1})
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import connect

        with pytest.raises(InvalidStatus) as refusal:
            connect(sim.url, open_timeout=5).close()
        assert refusal.value.response.status_code in (429, 500, 502, 503)
        httpx.get(f"{sim.http}/control/faults", params={"clear": 1})
        with connect(sim.url, open_timeout=5) as ws:
            ws.send('{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}')
            wait_for(lambda: bool(ws.recv(timeout=5)), what="an answer")
        assert httpx.get(f"{sim.http}/control/faults").json()["injected"]["upgrade"] == 1


@pytest.mark.slow
def test_the_command_starts_a_venue_with_its_faults() -> None:
    command = [sys.executable, "-m", "level4", "simulate", "--venue", "okx", "--symbols", "BTC-USDT"]
    command += ["--faults", "checksum=0.25,upgrade=0.5"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        while line and not line.startswith("simulating"):  # its log lines come first
            line = proc.stdout.readline()
        url = line.split()[3].replace("ws://", "http://")
        assert proc.stdout.readline().startswith("faults ")
        assert httpx.get(f"{url}control/faults").json()["rates"] == {"checksum": 0.25, "upgrade": 0.5}
    finally:
        proc.terminate()
        proc.wait(10)
