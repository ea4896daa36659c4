"""The cyclic garbage collector's settings for a long-running service process.

Nearly every object on the hot path (a frame, its parse, its events) is freed
by its reference count the moment it is done with; the cyclic collector is
for the rare cycle. With CPython's defaults (700, 10, 10) a backlog, frames
that wait a few milliseconds longer than usual in a queue, survives young
collections, is promoted, and makes full collections run over every object
of the process several times a second: the service spends its core on the
collector, falls further behind, and does not recover (measured at 95,000
frames/s offered: 26 full collections, 2.0 s of CPU in a 5 s step). Young
collections every 10,000 allocations instead of 700 let a backlog's objects
die young; a full collection at most every 100 middle ones; and what start-up
made (modules, catalogue, the supervision tree) is frozen out of every scan.
"""

from __future__ import annotations

import gc

import structlog

log = structlog.get_logger(__name__)

THRESHOLDS = (10_000, 50, 100)


def apply() -> None:
    """For the process that runs the service, once it has started."""
    gc.set_threshold(*THRESHOLDS)
    gc.collect()  # garbage left by start-up is collected, not frozen for good
    gc.freeze()
    log.info("gc_policy", thresholds=list(THRESHOLDS), frozen_objects=gc.get_freeze_count())


def release() -> None:
    """Give what was frozen back to the collector (a process that runs one service
    after another, as the benchmarks do, would otherwise keep every earlier one's cycles)."""
    gc.unfreeze()
