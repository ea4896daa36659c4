"""Times cryptofeed's own playback of a capture; run by cryptofeed's interpreter.

This file is executed by the Python of the separate cryptofeed virtualenv,
so it imports nothing from level4. It does what
`cryptofeed.raw_data_collection.playback` does (the same fake connection,
the same symbol and REST answers, the same handler, the same counting
callbacks) with one difference: the received frames are read into memory
first and only the loop that hands them to the feed's handler is timed, as
level4's replay times only its own frame loop, by the same clock (the
thread's CPU time).

    python cryptofeed_driver.py [--checksums] VENUE REPEATS FILE...

--checksums turns on cryptofeed's own checksum validation (the venues that
have it: Kraken, OKX), so that it does the checks level4 always does.

prints one JSON line: {"venue", "frames", "seconds": [per repeat], "callbacks"}
or {"venue", "error"} when cryptofeed cannot replay the capture.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from collections import defaultdict
from typing import Any


def _received(filenames: list[str], venue: str) -> list[tuple[str, str]]:
    from cryptofeed.defines import HUOBI, OKCOIN, OKX, UPBIT
    from cryptofeed.raw_data_collection import bytes_string_to_bytes

    out: list[tuple[str, str]] = []
    for filename in filenames:
        if ".ws." not in filename:
            continue
        with open(filename, encoding="utf-8") as fp:
            for line in fp:
                if line == "\n" or line[:3] in ("wss", "htt"):
                    continue
                timestamp, message = line.split(": ", 1)
                quoted = message[:2] in ("b'", 'b"')
                if HUOBI in filename or (quoted and (OKCOIN in filename or OKX in filename)):
                    message = bytes_string_to_bytes(message)
                elif UPBIT in filename and quoted:
                    message = message.strip()[2:-1]
                out.append((timestamp, message))
    return out


async def _one(
    venue: str, filenames: list[str], frames: list[tuple[str, str]], checksums: bool
) -> tuple[float, dict[str, int]]:
    from cryptofeed.connection import HTTPAsyncConn, HTTPSync
    from cryptofeed.exchanges import EXCHANGE_MAP
    from yapic import json as yjson

    stats: dict[str, int] = defaultdict(int)

    class FakeWS:  # as in cryptofeed's playback
        def __init__(self) -> None:
            self.conn_type = "wss"
            self.uuid = "1"
            self.cache: dict[str, list[str]] = defaultdict(list)
            self.subscription: Any = None
            for filename in filenames:
                if "http" in filename:
                    with open(filename, encoding="utf-8") as fp:
                        for line in fp:
                            if line.startswith("http"):
                                url, data = line.split(" -> ")
                                self.cache[url].append(data.split(": ", 1)[1])

        async def write(self, *args: Any, **kwargs: Any) -> None:
            pass

        async def read(self, url: str, **kwargs: Any) -> Any:
            data = self.cache[url].pop(0)
            if "header:" in data:
                body, header = data.split(" header: ")
                return body, yjson.loads(header.strip())
            return data

    ws = FakeWS()
    symbol_data: list[Any] = []
    sub: Any = None
    for f in filenames:
        if "ws" not in f and "http" not in f:
            with open(f, encoding="utf-8") as fp:
                for line in fp:
                    if "configuration" in line:
                        sub = yjson.loads(line.split(": ", 1)[1])
                        ws.subscription = sub
                    if line == "\n":
                        continue
                    symbol_data.append(yjson.loads(line.split(": ", 1)[1].strip()))

    http_async_read, http_sync_read = HTTPAsyncConn.read, HTTPSync.read
    HTTPAsyncConn.read = ws.read  # type: ignore[method-assign,assignment]
    HTTPSync.read = lambda *a, **k: symbol_data.pop(0)  # type: ignore[method-assign,assignment]

    async def count(*args: Any, cb_type: str, **kwargs: Any) -> None:
        stats[cb_type] += 1

    callbacks = {ctype: functools.partial(count, cb_type=ctype) for ctype in sub}
    feed = EXCHANGE_MAP[venue](
        candle_closed_only=False, config=None, subscription=sub, callbacks=callbacks, checksum_validation=checksums
    )
    ws.subscription = {
        feed.std_channel_to_exchange(chan): [feed.std_symbol_to_exchange_symbol(s) for s in sub[chan]]
        for chan in ws.subscription
    }
    handler: Any = None
    for _, subscribe, conn_handler, _auth in feed.connect():
        await subscribe(ws)
        handler = conn_handler  # as cryptofeed's playback: the last connection's handler takes every frame
    try:
        started = time.thread_time()
        for timestamp, message in frames:
            await handler(message, ws, timestamp)
        seconds = time.thread_time() - started
    finally:
        feed.stop()
        # Some feeds wait for a REST snapshot task that sleeps; it is not frame work.
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()
        HTTPAsyncConn.read, HTTPSync.read = http_async_read, http_sync_read  # type: ignore[method-assign]
    return seconds, dict(stats)


def main() -> int:
    args = sys.argv[1:]
    checksums = args[:1] == ["--checksums"]
    if checksums:
        args = args[1:]
    venue, repeats, filenames = args[0], int(args[1]), args[2:]
    try:
        frames = _received(filenames, venue)
        seconds: list[float] = []
        stats: dict[str, int] = {}
        for _ in range(repeats):
            elapsed, stats = asyncio.run(_one(venue, filenames, frames, checksums))
            seconds.append(elapsed)
    except Exception as exc:  # reported, not raised: a capture cryptofeed cannot read is a result
        print(json.dumps({"venue": venue, "error": f"{type(exc).__name__}: {exc}"[:300]}))
        return 0
    print(json.dumps({"venue": venue, "frames": len(frames), "seconds": seconds, "callbacks": stats}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
