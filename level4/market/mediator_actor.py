"""The mediator: owns the scheme's sync state for one market.

Translates frame batches, sends book work to the orderbook in one message
per batch, and turns connection work (subscribe, pings, pongs, REST
fetches, reconnects) into orders for the websocket actor.
"""

from __future__ import annotations

import time
from typing import Any

from level4.feed import resync_policy
from level4.feed.translator import ConnectionWork, Translator
from level4.market.context import MarketContext
from level4.market.market_actor import MarketActor
from level4.market.messages import (
    ApplyBatch,
    Connected,
    Crash,
    Disconnected,
    DoFetch,
    DoReconnect,
    Frames,
    Mismatches,
    PingDue,
    RestReply,
    SendFrames,
    StatusNotice,
)
from level4.market.status_board import Status
from translations.protocol import Desync, Instruction, Loss, Lost


class MediatorActor(MarketActor):
    hostable = True  # never blocks nor waits: may run where a frame was read
    role = "mediator"

    def __init__(self, ctx: MarketContext, **supervision: Any) -> None:
        super().__init__(ctx, **supervision)
        self.translator = Translator(ctx.scheme, [ctx.instrument])
        self.generation = 0
        self.work = ConnectionWork()

    def on_receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Frames:
            self._frames(message)
        elif kind is Mismatches:
            self._translate_internal(message.items, 0.0)
        elif kind is RestReply:
            self._translate_internal([message.answer], 0.0)
        elif kind is Connected:
            self._connected(message.generation)
        elif kind is Disconnected:
            self._disconnected(message)
        elif kind is PingDue:
            if message.generation == self.generation:
                frames = self.ctx.scheme.ping_msg(self.translator.state)
                if frames:
                    self._tell("websocket", SendFrames(self.generation, list(frames)))
        elif kind is Crash:
            raise RuntimeError(message.detail)
        return None

    # ---------------------------------------------------------------------------------

    def _tell(self, role: str, message: Any) -> None:
        self.ctx.registry.tell(self.ctx.market_id, role, message)

    def _connected(self, generation: int) -> None:
        self.generation = generation
        self.translator.reset()
        self.ctx.board.set(self.ctx.market_id, Status.SYNCHRONISING)
        # A new connection starts from nothing: whatever the old book was, it is gone.
        self._tell("orderbook", ApplyBatch([Desync(self.ctx.instrument.symbol, "new connection")], 0.0))
        if not self.ctx.shared:  # else the shared connection subscribes this market with others
            frames = self.ctx.scheme.subscribe_msg(self.translator.state)
            self._tell("websocket", SendFrames(generation, list(frames)))
        # What the scheme asks for before any frame comes (Binance: its REST snapshot).
        book_work: list[Instruction] = []
        self.translator.opened(book_work, self.work)
        self._dispatch(book_work, 0.0)

    def _disconnected(self, message: Disconnected) -> None:
        if message.generation < self.generation:
            return  # about a connection already replaced
        board = self.ctx.board
        board.set(self.ctx.market_id, Status.RECONNECTING, message.reason)
        board.count(self.ctx.market_id, reconnects=1)
        # Through the orderbook, behind the events of the frames before it: a market's
        # events then come in the order of its frames, the order a journal replays.
        self._tell("orderbook", StatusNotice("reconnecting", message.reason, time.time()))
        lost = Lost(self.ctx.instrument.symbol, Loss.DISCONNECT, message.reason)
        remedy = resync_policy.respond(lost, self.translator.remedies, self.ctx.scheme, self.translator.state)
        self._tell("orderbook", ApplyBatch(remedy, 0.0))

    def _frames(self, message: Frames) -> None:
        if message.generation != self.generation:
            return  # left over from a connection that has been replaced
        book_work: list[Instruction] = []
        work = self.work
        parsed = message.parsed
        if parsed is not None:  # routed by a shared connection, which parsed them already
            feed = self.translator.feed
            self.translator.frames += len(parsed)
            for frame in parsed:
                feed(frame, book_work, work)
        else:
            feed_raw = self.translator.feed_raw
            for _received, raw in message.batch:
                feed_raw(raw, book_work, work)
        last = message.batch[-1][0]
        self.ctx.board.frames_seen(self.ctx.market_id, len(message.batch), last)
        self._dispatch(book_work, last)

    def _translate_internal(self, frames: list[Any], received_at: float) -> None:
        book_work: list[Instruction] = []
        for frame in frames:
            self.translator.feed(frame, book_work, self.work)
        self._dispatch(book_work, received_at)

    def _dispatch(self, book_work: list[Instruction], received_at: float) -> None:
        work = self.work
        if book_work:
            resyncs = sum(1 for ins in book_work if type(ins) is Desync)
            if resyncs:
                self.ctx.board.count(self.ctx.market_id, resyncs=resyncs)
            self._tell("orderbook", ApplyBatch(book_work, received_at))
        if work.malformed:
            self.ctx.board.count(self.ctx.market_id, malformed=len(work.malformed))
            for bad in work.malformed[:3]:  # a flood of garbage must not become a flood of logs
                self.ctx.log.warning("frame_malformed", reason=bad.reason, frame=str(bad.frame)[:200])
        for send in work.sends:
            self._tell("websocket", SendFrames(self.generation, list(send.frames)))
        for fetch in work.fetches:
            self._tell("websocket", DoFetch(fetch.symbol, fetch.path))
        if work.reconnect is not None:
            self.ctx.log.info("feed_resync", reason=work.reconnect.reason)
            self._tell("websocket", DoReconnect(work.reconnect.reason, work.reconnect.backoff))
        work.clear()
