"""The status of markets other nodes run, asked of their owners.

A node's status board holds only the markets it runs. So that GET /markets on
any node tells every market's status as its owner sees it, this actor asks
each other live node, once a tick, for the statuses of the markets it runs
(GET /cluster/statuses: one request per node, answered from that node's
board in memory, no database), and leaves them in the ClusterView. It runs
on its own thread and apart from the keeper, so a peer slow to answer never
delays a lease renewal; what a peer has not told within a few ticks is
reported as unknown rather than as it once was.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import structlog

from level4.cluster.cluster_view import ClusterView
from level4.supervision import scheduler
from level4.supervision.supervised import SupervisedActor, describe_reason

log = structlog.get_logger(__name__)

STATUSES_PATH = "/cluster/statuses"
TIMEOUT = httpx.Timeout(2.0, connect=1.0)


class _Poll:
    pass


class StatusPoller(SupervisedActor):
    dispatcher = "thread"  # blocking HTTP round trips

    def __init__(self, view: ClusterView, interval: float, token: str | None, **supervision: Any) -> None:
        super().__init__(**supervision)
        self.view = view
        self.interval = interval
        self.headers = {"authorization": f"Bearer {token}"} if token else {}
        self.client: httpx.Client | None = None
        self._timer: scheduler.TimerHandle | None = None
        self._stopping = False
        self._failing: set[str] = set()  # peers whose last answer failed (logged once per failure run)

    def on_start(self) -> None:
        self.client = httpx.Client(timeout=TIMEOUT, headers=self.headers)
        self.actor_ref.tell(_Poll())

    def on_stop(self) -> None:
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
        if self.client is not None:
            self.client.close()

    def on_failure(self, *_exc_info: object) -> None:
        self.on_stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Poll):
            started = time.monotonic()
            try:
                self.poll()
            finally:
                if not self._stopping:
                    delay = max(0.0, self.interval - (time.monotonic() - started))
                    self._timer = scheduler.call_later(delay, self._tell_poll)
        return None

    def _tell_poll(self) -> None:
        if not self._stopping:
            self.actor_ref.tell(_Poll())

    def poll(self) -> None:
        assert self.client is not None
        for name, url in self.view.peers():
            try:
                answer = self.client.get(url + STATUSES_PATH)
                answer.raise_for_status()
                body = answer.json()
                statuses = {int(m["id"]): m for m in body["markets"]}
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                if name not in self._failing:
                    log.warning("cluster_status_poll_failed", node=name, reason=describe_reason(exc))
                self._failing.add(name)
                continue
            self._failing.discard(name)
            self.view.set_remote_statuses(name, statuses, time.monotonic())
