"""NATS JetStream sink: one subject per channel and market, in one stream.

Subjects are `<prefix>.<channel>.<EXCHANGE>.<TYPE>.<INSTRUMENT>`, the
market tag `EXCHANGE.TYPE:INSTRUMENT` split into tokens, so consumers can
filter with wildcards (`level4.trade.BINANCE.>`). The stream (created when
missing) captures `<prefix>.>`. Every message carries a `Nats-Msg-Id`, so a
batch resent after a lost acknowledgement is stored once.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from level4.sinks.runner import Record
from level4.sinks.spec import SinkSpec

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def subject_tokens(tag: str) -> str:
    """The market tag as subject tokens: `COINBASE.SPOT:BTC-USD` ->
    `COINBASE.SPOT.BTC-USD`; anything a token cannot hold becomes `_`."""
    head, sep, rest = tag.partition(":")
    tokens = head.split(".") if sep else []
    tokens.append(rest if sep else head)
    return ".".join(_UNSAFE.sub("_", t) or "_" for t in tokens)


async def ensure_stream(js: JetStreamContext, stream: str, wanted: str, limits: dict[str, Any]) -> None:
    """Create the stream capturing `wanted` when missing (with `limits`), or add the subject to it."""
    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        try:
            await js.add_stream(name=stream, subjects=[wanted], **limits)
        except nats.js.errors.BadRequestError:  # created by another client meanwhile
            await js.stream_info(stream)
        return
    subjects = list(info.config.subjects or [])
    if wanted not in subjects:  # an operator's stream: keep its settings, add the subjects
        await js.update_stream(info.config.evolve(subjects=[*subjects, wanted]))


class JetStreamTransport:
    # Settings of a stream this transport creates, beyond its name and subjects.
    stream_limits: dict[str, Any] = {}

    def __init__(self, spec: SinkSpec, origin: str) -> None:
        self.url = spec.url
        self.stream = spec.options["stream"]
        self.prefix = spec.options["prefix"]
        self.origin = origin
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self._subjects: dict[tuple[str, str], str] = {}
        self._inflight: list[asyncio.Future[Any]] = []
        self._error: Exception | None = None
        self.headers: dict[str, str] = {}  # sent with every message besides its id

    def subject(self, channel: str, market: str) -> str:
        key = (channel, market)
        subject = self._subjects.get(key)
        if subject is None:
            subject = f"{self.prefix}.{_UNSAFE.sub('_', channel) or '_'}.{subject_tokens(market)}"
            self._subjects[key] = subject
        return subject

    async def connect(self) -> None:
        # The runner owns reconnects (backoff, status, the batch to resend), so the client must not.
        # (1 is the fewest attempts the client allows: 0 would mean forever.)
        self._error = None
        try:
            self.nc = await nats.connect(
                self.url,
                allow_reconnect=False,
                connect_timeout=3,
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                error_cb=self._note,
                disconnected_cb=self._lost,
                closed_cb=self._lost,
            )
        except nats.errors.NoServersError:
            raise self._error or ConnectionError("no NATS server answered") from None
        self.js = self.nc.jetstream()
        await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        assert self.js is not None
        await ensure_stream(self.js, self.stream, self.stream_subjects(), self.stream_limits)

    def stream_subjects(self) -> str:
        return f"{self.prefix}.>"

    async def send(self, batch: list[Record]) -> None:
        assert self.js is not None
        futures = self._inflight = []
        try:
            for record in batch:
                futures.append(
                    await self.js.publish_async(
                        self.subject(record.channel, record.market),
                        record.payload,
                        stream=self.stream,
                        headers={**self.headers, "Nats-Msg-Id": record.msg_id or f"{self.origin}-{record.serial}"},
                    )
                )
            await asyncio.gather(*futures)
        finally:
            for future in futures:
                future.cancel()  # no-op for acknowledged ones; frees the client's slots for the rest
            self._inflight = []

    async def check(self) -> None:
        assert self.nc is not None
        await self.nc.flush(timeout=3)

    async def close(self) -> None:
        nc, self.nc, self.js = self.nc, None, None
        if nc is not None and not nc.is_closed:
            await nc.close()

    async def _lost(self) -> None:
        # Without this the acknowledgements of a dead connection would only time out.
        for future in self._inflight:
            if not future.done():
                future.set_exception(ConnectionError("connection to the NATS server lost"))

    async def _note(self, exc: Exception) -> None:
        # The client's own error reports: kept as the reason, the runner reports failures itself.
        self._error = exc
