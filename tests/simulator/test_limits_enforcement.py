"""The simulator refuses a client over a limit the way the venue does, seen
from raw websocket and HTTP clients: upgrades over the connect window, too
many messages, too many streams, REST weight (429, then Binance's 418 ban),
the connection lifetime; and /control/limits reports how close clients came."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

import translations
from level4.simulator.server import VenueSimulator
from translations.venue_limits import VenueLimits

DEPTH = "/api/v3/depth?symbol=BTCUSDT&limit=1000"  # weight 50


@asynccontextmanager
async def simulator(
    venue: str, symbols: list[str], api: str | None = None, **changes: Any
) -> AsyncIterator[VenueSimulator]:
    limits = translations.limits_for(venue, api or "").scaled(**changes)
    sim = VenueSimulator(venue, symbols, rate=0, limits=limits, api=api)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def url(sim: VenueSimulator) -> str:
    return f"ws://127.0.0.1:{sim.port}/"


async def control(sim: VenueSimulator, **query: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
        response = await http.get("/control/limits", params=query)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None, list[str]]:
    """Read until the venue closes: its close code, reason and the frames before it."""
    frames: list[str] = []
    try:
        async with asyncio.timeout(5):
            async for frame in ws:
                frames.append(frame if isinstance(frame, str) else frame.decode())
    except ConnectionClosed:
        pass
    assert ws.close_code is not None, "the venue kept the connection open"
    return ws.close_code, ws.close_reason, frames


async def test_binance_closes_a_connection_that_sends_more_than_its_messages_a_second() -> None:
    async with simulator("BINANCE", ["BTC-USDT"]) as sim:
        async with connect(url(sim)) as ws:
            for n in range(5):  # the limit itself is fine
                await ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": n + 1}).decode())
            answers = [orjson.loads(await ws.recv()) for _ in range(5)]
            assert [a["id"] for a in answers] == [1, 2, 3, 4, 5]
            await ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 6}).decode())
            code, reason, frames = await closed_with(ws)
        assert (code, reason) == (1008, "Too many requests")
        assert frames == []  # the sixth request was never answered
        state = await control(sim)
        assert state["refusals"] == {"sends": 1}
        assert state["peaks"]["sends"] == {"peak": 6, "limit": 5, "ratio": 1.2}


async def test_binance_closes_a_connection_over_its_streams() -> None:
    async with simulator("BINANCE", ["BTC-USDT"], streams_per_connection=3) as sim:
        async with connect(url(sim)) as ws:
            names = ["btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@aggTrade"]
            await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": names, "id": 1}).decode())
            assert orjson.loads(await ws.recv()) == {"result": None, "id": 1}
            await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": 2}).decode())
            code, reason, _ = await closed_with(ws)
        assert (code, reason) == (1008, "Too many streams")
        state = await control(sim)
        assert state["refusals"] == {"streams": 1} and state["peaks"]["streams"]["peak"] == 4


async def test_connection_attempts_over_the_window_are_refused_with_429_and_retry_after() -> None:
    async with simulator("BINANCE", ["BTC-USDT"], connects=2, connect_window=30.0) as sim:
        async with connect(url(sim)), connect(url(sim)):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url(sim)):
                    pass
        response = refused.value.response
        assert response.status_code == 429
        assert 29 <= int(response.headers["Retry-After"]) <= 30
        state = await control(sim)
        assert state["refusals"] == {"connects": 1}
        assert state["peaks"]["connects"] == {"peak": 2, "limit": 2, "ratio": 1.0}


async def test_binance_rest_weight_429_then_a_418_ban_for_asking_again_too_soon() -> None:
    async with simulator("BINANCE", ["BTC-USDT"], rest_budget=100, rest_window=30.0) as sim:
        await control(sim, ban=5)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
            for _ in range(2):
                assert (await http.get(DEPTH)).status_code == 200
            over = await http.get(DEPTH)
            assert over.status_code == 429
            assert over.json()["code"] == -1003
            assert 29 <= int(over.headers["Retry-After"]) <= 30
            banned = await http.get(DEPTH)  # not waiting the Retry-After out
            assert banned.status_code == 418
            assert int(banned.headers["Retry-After"]) == 5
            assert (await http.get(DEPTH)).status_code == 418  # still banned
        state = await control(sim)
        assert state["refusals"] == {"rest": 1, "rest_banned": 2}
        assert state["bans"] == 1 and 0 < state["banned_for"] <= 5
        assert state["peaks"]["rest_weight"] == {"peak": 100, "limit": 100, "ratio": 1.0}


async def test_bybit_answers_rest_over_its_budget_with_403() -> None:
    async with (
        simulator("BYBIT", ["BTC-USDT"], rest_budget=1, rest_window=30.0) as sim,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http,
    ):
        assert (await http.get("/v5/market/time")).status_code == 404  # counted, then answered
        over = await http.get("/v5/market/time")
        assert over.status_code == 403 and over.json()["retMsg"] == "access too frequent"
        assert (await http.get("/v5/market/time")).status_code == 403  # no 418 bans at Bybit


async def test_kraken_answers_too_many_messages_with_its_error_and_keeps_the_connection() -> None:
    async with simulator("KRAKEN", ["BTC-USD"], sends_per_second=2) as sim, connect(url(sim)) as ws:
        for n in range(3):
            await ws.send(orjson.dumps({"method": "ping", "req_id": n}).decode())
        frames = []
        async with asyncio.timeout(5):
            while len(frames) < 4:
                frames.append(orjson.loads(await ws.recv()))
        assert frames[0]["channel"] == "status"
        assert [f.get("method") for f in frames[1:]] == ["pong", "pong", "ping"]
        assert frames[3] == {"error": "Exceeded msg rate", "method": "ping", "success": False, "req_id": 2}
        await ws.ping()  # still open


async def test_kraken_v1_answers_too_many_messages_in_its_own_words() -> None:
    async with simulator("KRAKEN", ["BTC-USD"], api="v1", sends_per_second=2) as sim, connect(url(sim)) as ws:
        for n in range(3):
            await ws.send(orjson.dumps({"event": "ping", "reqid": n}).decode())
        frames = []
        async with asyncio.timeout(5):
            while len(frames) < 4:
                frames.append(orjson.loads(await ws.recv()))
        assert frames[0]["event"] == "systemStatus"
        assert [f.get("event") for f in frames[1:]] == ["pong", "pong", "error"]
        assert frames[3] == {"event": "error", "errorMessage": "Exceeded msg rate", "reqid": 2}
        await ws.ping()  # still open


async def test_deribit_ends_the_session_with_too_many_requests() -> None:
    async with simulator("DERIBIT", ["BTC-USD"], sends_per_second=1) as sim:
        async with connect(url(sim)) as ws:
            for n in range(2):
                await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": n, "method": "public/test"}).decode())
            _code, reason, frames = await closed_with(ws)
        assert reason == "too_many_requests"
        assert orjson.loads(frames[-1])["error"] == {"message": "too_many_requests", "code": 10028}


async def test_connections_are_cut_at_the_venue_lifetime() -> None:
    async with simulator("BINANCE", ["BTC-USDT"], max_lifetime=0.3) as sim:
        async with connect(url(sim)) as ws:
            code, reason, _ = await closed_with(ws)
        assert (code, reason) == (1001, "connection lifetime reached")


async def test_control_changes_limits_starts_counts_over_and_refuses_nonsense() -> None:
    async with simulator("BINANCE", ["BTC-USDT"]) as sim:
        state = await control(sim)
        assert state["limits"] == translations.limits_for("BINANCE").as_dict()
        assert state["enforced"] is True
        state = await control(sim, rest_budget=300, rest_window=2.5)
        assert state["limits"]["rest_budget"] == 300 and state["limits"]["rest_window"] == 2.5
        state = await control(sim, enforce=0)
        assert state["enforced"] is False
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
            assert (await http.get("/control/limits", params={"speed": 3})).status_code == 422
            assert (await http.get("/control/limits", params={"rest_budget": "lots"})).status_code == 422
            for _ in range(8):  # 400 weight: over the budget, but not enforced
                assert (await http.get(DEPTH)).status_code == 200
        state = await control(sim)
        assert state["refusals"] == {} and state["peaks"]["rest_weight"]["peak"] == 400
        state = await control(sim, clear=1)
        assert state["peaks"]["rest_weight"]["peak"] == 0


def test_every_venue_has_limits_the_simulator_can_enforce() -> None:
    for name in translations.names():
        sim = VenueSimulator(name, ["BTC-USDT"] if name != "BITFLYER" else ["BTC-JPY"], rate=0)
        assert isinstance(sim.enforcer.limits, VenueLimits) and sim.enforcer.enabled


@pytest.mark.slow
def test_the_command_can_serve_without_enforcing() -> None:
    command = [sys.executable, "-m", "level4", "simulate", "--venue", "binance", "--symbols", "BTC-USDT"]
    proc = subprocess.Popen([*command, "--no-limits"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        while line and not line.startswith("simulating"):  # its log lines come first
            line = proc.stdout.readline()
        url = line.split()[3].replace("ws://", "http://")
        state = httpx.get(f"{url}control/limits").json()
        assert state["enforced"] is False and state["limits"]["connects"] == 300
    finally:
        proc.terminate()
        proc.wait(10)
