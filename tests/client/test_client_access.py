"""Getting in: the token, TLS, and a service that is not there, each with a
clear exception and no hang."""

from __future__ import annotations

import random
import ssl
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from level4.client import Client, ReconnectPolicy, ServiceUnavailable, Unauthorized
from tests.client.live_service import exact_now, free_port, live_venue
from tests.resilience.test_security import self_signed
from tests.support import until

pytestmark = pytest.mark.slow

TOKEN = "tok-client-4f9a1c"


async def test_the_token_is_sent_and_a_wrong_or_missing_one_refused(tmp_path: Path) -> None:
    with live_venue(tmp_path, api_token=TOKEN) as live:
        for token in (None, "wrong"):
            started = time.monotonic()
            with pytest.raises(Unauthorized, match="token"):
                async with Client(live.base, token=token):
                    pass
            assert time.monotonic() - started < 5  # refused at once: no retrying a token that will not do
        with pytest.raises(Unauthorized):
            Client.sync(live.base, token="wrong")
        async with Client(live.base, token=TOKEN) as client:
            book = await client.book(live.tag)
            await book.wait_synchronised(10)
            live.sim.pause()
            await until(lambda: exact_now(live, book), what="mirror == served book == reference")


async def test_https_gives_a_tls_websocket_verified_with_the_given_context(tmp_path: Path) -> None:
    certfile, keyfile = self_signed(tmp_path)
    context = ssl.create_default_context(cafile=str(certfile))
    with live_venue(tmp_path, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile), tls=context) as live:
        assert live.base.startswith("https://")
        async with Client(live.base, ssl=context) as client:
            assert client.connection.url.startswith("wss://")
            book = await client.book(live.tag)
            await book.wait_synchronised(10)
            live.sim.pause()
            await until(lambda: exact_now(live, book), what="mirror == served book == reference")
        with pytest.raises(ServiceUnavailable, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            async with Client(live.base, open_timeout=1):  # a certificate the default context does not trust
                pass


async def test_a_service_that_is_not_there_is_reported_not_waited_for(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match=r"127\.0\.0\.1"):
        async with Client(f"http://127.0.0.1:{free_port()}", open_timeout=1.0):
            pass
    assert time.monotonic() - started < 5
    with pytest.raises(ValueError, match="http"):
        Client("ftp://127.0.0.1:1")


async def test_retries_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    drawn: list[float] = []

    class Recorded(ReconnectPolicy):
        """The policy as it is, each delay it draws kept for the test."""

        def delay(self, attempt: int, draw: random.Random | None = None) -> float:
            value = ReconnectPolicy.delay(self, attempt, draw)
            drawn.append(value)
            return value

    policy = Recorded(initial=0.05, factor=2, maximum=0.4, jitter=0.5)
    client = Client(f"http://127.0.0.1:{free_port()}", reconnect=policy, open_timeout=2.5)
    attempts: list[float] = []
    fetch = client.connection.rest.markets

    async def counted() -> list[dict[str, Any]]:
        attempts.append(time.monotonic())
        return await fetch()

    client.connection.rest.markets = counted  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        await client.open()
    waits = [b - a for a, b in pairwise(attempts)]
    assert len(waits) >= 6
    for n, (delay, wait) in enumerate(zip(drawn, waits, strict=False)):
        nominal = min(policy.maximum, policy.initial * policy.factor**n)
        assert nominal * (1 - policy.jitter) <= delay <= nominal  # exponential, jittered, capped
        # Really waited: at least the drawn delay (and, on a loaded machine, a failed attempt more).
        assert delay <= wait <= delay + 2.0
    capped = drawn[3 : len(waits)]
    assert len({round(d, 4) for d in capped}) > 1  # jittered, not in step


async def test_a_refusal_seen_only_as_the_close_frame_ends_the_client_at_once() -> None:
    # The stream refuses a token with a message and a 1008 close; a client that
    # meets the close first (its request raced the refusal) must still give up,
    # not retry. This server sends only the close, so that path is the one taken.
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.datastructures import Headers
    from websockets.http11 import Request, Response

    def rest(connection: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/markets"):
            return Response(200, "OK", Headers({"Content-Type": "application/json"}), b"[]")
        return None  # the /stream upgrade

    async def refuse(ws: ServerConnection) -> None:
        await ws.close(1008, "wrong token: send Authorization: Bearer or ?token=")

    async with serve(refuse, "127.0.0.1", 0, process_request=rest) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        started = time.monotonic()
        with pytest.raises(Unauthorized, match="wrong token"):
            async with Client(f"http://127.0.0.1:{port}", token="wrong"):
                pass
        assert time.monotonic() - started < 2
