"""Events between the nodes of a cluster, over NATS JetStream.

Every node publishes the events of the markets it owns to one stream, on a
subject of its own (`level4.cluster.<cluster>.events.<node>`): every node
reads every event, so no subject per market is needed. The events go in
batches (`bus_sender.py`: the markets mixed in publishing order, one JSON
array per message serialised once, one acknowledgement per batch, the id
`<node>:<boot id>:<batch number>` so that a batch resent after a lost
acknowledgement is stored once). The publishing market's thread only appends
to a bounded outbox, which never blocks a market: its overflow is counted
and logged.

Every node also reads the whole stream from the moment it starts (an
ordered consumer), decodes a message with one orjson call and injects the other nodes' events into its own hub, so
its /stream clients, tape, candles and consolidated tops see every market of
the cluster. An event of an epoch older than the newest seen for its market
(a deposed owner's late events) is dropped and counted. Beside it, a
`RemoteBook` per market keeps an exact copy of the owner's book, which
answers a /stream subscription's snapshot and the consolidated book. A copy
without a snapshot (a node that joined late, events lost on the way) asks
the owner for one on `...resync`; the owner sends its book as of its last
event into the same stream, in line with its events.

Events the bus injected never leave the node again: neither to the bus nor
to the sinks (`is_own_event`), so each event is published once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import nats
import nats.errors
import orjson
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from level4.cluster.bus_sender import NODE_HEADER, STREAM_LIMITS, BatchSender, BusTransport
from level4.cluster.remote_book import RemoteBook
from level4.market.hub import EventHub
from level4.sinks.jetstream import ensure_stream
from level4.sinks.outbox import Outbox
from level4.sinks.sink_status import SinkState
from level4.sinks.spec import SinkSpec
from level4.supervision.supervised import describe_reason

log = structlog.get_logger(__name__)

Event = dict[str, Any]
Deliver = Callable[[Event], None]
# Have `deliver` called with the market's book as of its last event, in line with its events.
RequestBook = Callable[[int, Deliver], None]

QUEUE = 100_000  # events waiting to be sent before the oldest are dropped
RESYNC_INTERVAL = 2.0  # seconds between two requests for one market's snapshot
WATCH_INTERVAL = 1.0
ASK_WHILE_ACTIVE = 60.0  # seconds after its last event that a copy without a snapshot keeps asking for one
START_TIMEOUT = 5.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def cluster_prefix(cluster: str) -> str:
    return f"level4.cluster.{_UNSAFE.sub('_', cluster) or '_'}"


def stream_name(cluster: str) -> str:
    return f"LEVEL4_CLUSTER_{_UNSAFE.sub('_', cluster) or '_'}"


class EventBus:
    def __init__(
        self,
        url: str,
        node: str,
        hub: EventHub,
        cluster: str = "level4",
        is_local: Callable[[int], bool] | None = None,
        request_book: RequestBook | None = None,
        local_markets: Callable[[], Iterable[int]] | None = None,
        queue: int = QUEUE,
    ) -> None:
        self.url = url
        self.node = node
        self.hub = hub
        self.prefix = cluster_prefix(cluster)
        self.stream = stream_name(cluster)
        self._is_local = is_local or (lambda market_id: False)
        self._request_book = request_book
        self._local_markets = local_markets
        self.spec = SinkSpec(
            "nats", "cluster-bus", url, queue=queue, retry_max=5.0, flush=2.0,
            options={"stream": self.stream, "prefix": self.prefix},
        )  # fmt: skip
        self.outbox = Outbox(queue)
        self.state = SinkState(self.spec, self.outbox)
        self.log = log.bind(node=node, stream=self.stream)
        self._lock = threading.Lock()  # a remote book's change and its events' fan-out, as one
        self._books: dict[int, RemoteBook] = {}
        self._newest: dict[int, int] = {}  # market id -> newest epoch seen
        self._asked: dict[int, float] = {}  # market id -> when its snapshot was last asked for
        self._seen: dict[int, float] = {}  # market id -> when its last event came
        self._injecting = threading.local()
        # counters
        self.injected = 0
        self.stale_dropped = 0  # events of an older epoch than one seen: a deposed owner's
        self.local_dropped = 0  # another node's events of a market this node owns
        self.unowned_skipped = 0  # events published here of a market this node does not own
        self.unreadable = 0
        self.resyncs_asked = 0
        self.resyncs_sent = 0
        self._overflow_logged = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._consumer: Client | None = None

    # --- wiring -----------------------------------------------------------------------

    def attach(self, is_local: Callable[[int], bool]) -> None:
        """Which markets this node owns (the cluster's leases)."""
        self._is_local = is_local

    def is_local(self, market_id: int) -> bool:
        return self._is_local(market_id)

    def is_own_event(self, event: Event) -> bool:
        """An event of a market this node owns, published here (not one the bus injected):
        what this node's sinks take."""
        return not getattr(self._injecting, "active", False) and self._is_local(int(event["market_id"]))

    # --- the running bus (its own thread and event loop) ----------------------------------

    def start(self) -> None:
        """Publish this node's events and read the others'; returns once the reading has
        begun (or after START_TIMEOUT while the server does not answer: it keeps trying)."""
        if self._thread is not None:
            return
        self._ready.clear()
        self._unsubscribe = self.hub.subscribe(self._offer)
        self._thread = threading.Thread(target=self._thread_main, name="level4-cluster-bus", daemon=True)
        self._thread.start()
        self._ready.wait(START_TIMEOUT)

    def stop(self, timeout: float = 5.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        loop, thread, stop = self._loop, self._thread, self._stop
        self._thread = None
        if thread is None:
            return
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(stop.set)
        self.outbox.wake()
        thread.join(timeout)
        if thread.is_alive():
            self.log.warning("cluster_bus_stop_incomplete", left=len(self.outbox))

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main(loop))
        except Exception:  # a bug: logged, and the node goes on without the bus
            self.log.exception("cluster_bus_died")
        finally:
            # The NATS client's own tasks (an ordered consumer's checks) end with the loop.
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.close()
            self._loop = None

    async def _main(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._stop = stop = asyncio.Event()
        transport = BusTransport(self.spec, self.outbox.origin, self.node)
        runner = BatchSender(transport, self.outbox, self.state, self.node, sending=self._sending)
        tasks = [
            asyncio.create_task(runner.run(stop)),
            asyncio.create_task(self._consume(stop)),
            asyncio.create_task(self._watch(stop)),
        ]
        try:
            await stop.wait()
            # The runner drains the outbox once stopped; the others end with the stop.
            await asyncio.wait_for(asyncio.shield(tasks[0]), self.spec.flush)
        except TimeoutError:
            self.log.warning("cluster_bus_flush_incomplete", left=runner.left())
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            consumer, self._consumer = self._consumer, None
            if consumer is not None and not consumer.is_closed:
                with contextlib.suppress(Exception):
                    await consumer.close()

    # --- sending ----------------------------------------------------------------------

    def _offer(self, event: Event) -> None:
        """The hub consumer: runs on the publishing market's thread, so it only checks the
        lease and queues (the rest is the bus thread's, per batch: `_sending`)."""
        if getattr(self._injecting, "active", False):
            return  # another node's event: never back out
        if not self._is_local(int(event["market_id"])):
            self.unowned_skipped += 1
            return
        self.outbox.put(event)

    def _sending(self, events: list[Event]) -> None:
        """A batch about to be sent: its epochs are the newest this node knows of its own
        markets, so a deposed owner's late events are dropped here too once it moves on."""
        newest = self._newest
        for event in events:
            try:
                market_id, epoch = int(event["market_id"]), int(event.get("epoch", 0))
            except (KeyError, TypeError, ValueError):
                continue  # serialised as it is; the other nodes count it unreadable
            if epoch > newest.get(market_id, -1):
                newest[market_id] = epoch

    async def _watch(self, stop: asyncio.Event) -> None:
        """Log overflows; ask again for the snapshots of copies still without one (a
        request sent while the owner was away from the server is lost)."""
        while not stop.is_set():
            await asyncio.sleep(WATCH_INTERVAL)
            dropped = self.outbox.dropped
            if dropped > self._overflow_logged:
                # The other nodes see the gap and ask for fresh snapshots.
                self.log.warning("cluster_bus_overflow", dropped=dropped - self._overflow_logged, total=dropped)
                self._overflow_logged = dropped
            recent = time.monotonic() - ASK_WHILE_ACTIVE
            with self._lock:
                waiting = [m for m, b in self._books.items() if b.needs_snapshot and self._seen.get(m, 0) > recent]
            for market_id in waiting:
                await self._ask_resync(market_id)

    # --- receiving --------------------------------------------------------------------

    async def _consume(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                nc = await nats.connect(
                    self.url, connect_timeout=3, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                    allow_reconnect=True, error_cb=self._note_error,
                )  # fmt: skip
            except (nats.errors.NoServersError, OSError, TimeoutError) as exc:
                attempt += 1
                self.log.warning("cluster_bus_unreachable", reason=describe_reason(exc) or "no server", attempt=attempt)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(5.0, 0.2 * 2**attempt))
                continue
            self._consumer = nc
            js = nc.jetstream()
            try:
                await ensure_stream(js, self.stream, f"{self.prefix}.events.>", STREAM_LIMITS)
                await nc.subscribe(f"{self.prefix}.resync", cb=self._on_resync_request)
                await js.subscribe(
                    f"{self.prefix}.events.>", cb=self._on_message, stream=self.stream,
                    ordered_consumer=True, deliver_policy=DeliverPolicy.NEW,
                )  # fmt: skip
                await nc.flush(timeout=3)
            except Exception as exc:  # the server refused or went away: start over
                attempt += 1
                self.log.warning("cluster_bus_subscribe_failed", reason=describe_reason(exc), attempt=attempt)
                with contextlib.suppress(Exception):
                    await nc.close()
                self._consumer = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(5.0, 0.2 * 2**attempt))
                continue
            self.log.info("cluster_bus_reading", subject=f"{self.prefix}.events.>")
            self._ready.set()
            # A node that joins now has no books of the others': ask every owner for its snapshots.
            await self._ask_resync(None)
            await stop.wait()
            return

    async def _note_error(self, exc: Exception) -> None:
        self.log.warning("cluster_bus_error", reason=describe_reason(exc))

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers or {}
        if headers.get(NODE_HEADER) == self.node:
            return  # this node's own events are in its hub already
        try:
            events = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            events = None
        if not isinstance(events, list):
            events = [events] if isinstance(events, dict) else []
            if not events:
                self.unreadable += 1
                self.log.error("cluster_bus_event_unreadable", subject=msg.subject, node=headers.get(NODE_HEADER))
                return
        for market_id in self._inject_all(events, headers.get(NODE_HEADER)):
            await self._ask_resync(market_id)

    def _inject_all(self, events: list[Any], node: str | None) -> list[int]:
        """Apply a message's events of other nodes, in order, under one hold of the lock;
        the markets whose copies need a snapshot after it."""
        wanted: dict[int, bool] = {}
        local: dict[int, bool] = {}  # the leases asked once per market per message
        now = time.monotonic()
        with self._lock:
            self._injecting.active = True
            try:
                for event in events:
                    market_id = None
                    try:
                        market_id = int(event["market_id"])
                        is_local = local.get(market_id)
                        if is_local is None:
                            is_local = local[market_id] = self._is_local(market_id)
                        wanted[market_id] = self._inject(market_id, event, is_local, now)
                    except (AttributeError, KeyError, TypeError, ValueError):
                        # One bad event costs itself only: its copy waits for a snapshot.
                        self.unreadable += 1
                        self.log.error("cluster_bus_event_unreadable", node=node, market_id=market_id)
                        book = self._books.get(market_id) if market_id is not None else None
                        if book is not None:
                            book.lose("an unreadable event from the owner")
                            wanted[book.market_id] = True
            finally:
                self._injecting.active = False
        return [market_id for market_id, wants in wanted.items() if wants]

    def _inject(self, market_id: int, event: Event, is_local: bool, now: float) -> bool:
        """Apply one event of another node (the lock held, marked as injecting); True when
        its market's copy needs a snapshot."""
        if is_local:
            self.local_dropped += 1
            return False
        resync = bool(event.pop("resync", False))
        epoch = int(event.get("epoch", 0))
        newest = self._newest.get(market_id)
        if newest is not None and epoch < newest:
            self.stale_dropped += 1
            if self.stale_dropped == 1 or self.stale_dropped % 1000 == 0:
                self.log.warning(
                    "cluster_bus_stale_dropped", market=event.get("market"), epoch=epoch, newest=newest,
                    total=self.stale_dropped,
                )  # fmt: skip
            return False
        self._newest[market_id] = epoch
        self._seen[market_id] = now
        book = self._books.get(market_id)
        if book is None:
            book = self._books[market_id] = RemoteBook(market_id, str(event.get("market") or ""))
        if resync:
            was_good = book.synchronised
            book.take_resync(event)
            if was_good or not book.synchronised:
                return False  # subscribers hold a good book, or there is none to give them
            # A copy back in sync: its subscribers take the snapshot (clients see a repeat of
            # its sequence and retake the book, which is now good).
        elif not book.apply(event) and (book.gaps == 1 or book.gaps % 100 == 0):
            self.log.warning("cluster_bus_gap", market=book.tag, reason=book.reason, gaps=book.gaps)
        self.injected += 1
        self.hub.publish(event)
        return book.needs_snapshot

    def _book(self, market_id: int, tag: str) -> RemoteBook:
        book = self._books.get(market_id)
        if book is None:
            book = self._books[market_id] = RemoteBook(market_id, tag)
        return book

    async def _ask_resync(self, market_id: int | None) -> None:
        """Ask the owner (None: every node, for all it owns) for a snapshot, at most every
        RESYNC_INTERVAL per market."""
        key = -1 if market_id is None else market_id
        now = time.monotonic()
        if now - self._asked.get(key, -RESYNC_INTERVAL) < RESYNC_INTERVAL:
            return
        self._asked[key] = now
        nc = self._consumer
        if nc is None or not nc.is_connected:
            return
        self.resyncs_asked += 1
        with contextlib.suppress(Exception):  # asked again at the next event
            await nc.publish(f"{self.prefix}.resync", orjson.dumps({"market_id": market_id, "node": self.node}))

    async def _on_resync_request(self, msg: Msg) -> None:
        try:
            request = orjson.loads(msg.data)
            wanted = request.get("market_id")
        except (orjson.JSONDecodeError, AttributeError):
            self.unreadable += 1
            return
        if self._request_book is None:
            return
        if wanted is None:
            markets = list(self._local_markets()) if self._local_markets is not None else []
        else:
            markets = [int(wanted)]
        for market_id in markets:
            if self._is_local(market_id):
                self.resyncs_sent += 1
                self._request_book(market_id, self._send_resync)

    def _send_resync(self, event: Event) -> None:
        # Called in line with the market's events (its exchange actor): queued behind those it covers.
        if self._is_local(int(event["market_id"])):
            self.outbox.put({**event, "resync": True})

    # --- serving remote markets -------------------------------------------------------

    def serves(self, market_id: int) -> bool:
        """Whether this node answers for the market from the bus (it runs elsewhere)."""
        return not self._is_local(market_id)

    def deliver_snapshot(self, market_id: int, tag: str, deliver: Deliver) -> None:
        """A /stream subscription's snapshot of a remote market: the copy as of the last
        event injected, in line with the events that follow (under the same lock)."""
        with self._lock:
            book = self._book(market_id, tag)
            deliver(book.snapshot_event())
            wanted = not book.synchronised
        loop = self._loop
        if wanted and loop is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self._ask_resync(market_id), loop)

    def book(self, market_id: int, tag: str, depth: int | None) -> dict[str, Any]:
        with self._lock:
            return self._book(market_id, tag).book(depth)

    def remote_book(self, market_id: int) -> RemoteBook | None:
        return self._books.get(market_id)

    def status(self) -> dict[str, Any]:
        return {
            **self.state.as_dict(),
            "node": self.node,
            "stream": self.stream,
            "overflow_dropped": self.outbox.dropped,
            "injected": self.injected,
            "stale_dropped": self.stale_dropped,
            "local_dropped": self.local_dropped,
            "unreadable": self.unreadable,
            "remote_markets": len(self._books),
            "resyncs_asked": self.resyncs_asked,
            "resyncs_sent": self.resyncs_sent,
        }
