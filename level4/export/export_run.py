"""A journal through the replay (the same MarketReplay as `level4 replay
--format level4`) into the datasets, one market after another, one record at
a time: memory holds one journal file and the writers' bounded buffers.

Receipt times: an event a batch of frames caused carries the receipt time of
the batch's last frame, as live and in the replay. Events the actors stamp
with the clock (started, stopped, reconnecting, what a REST answer or a
checksum mismatch caused) would carry the export's clock; they get instead
the time of the journal record that caused them (when the REST answer
arrived, the actors started, the connection closed...), so every row has a
time from the recorded session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from level4.export.dataset_columns import DATASETS
from level4.export.export_rows import EventRows
from level4.export.export_schema import ValueTooWide
from level4.export.parquet_writer import DatasetWriter
from level4.journal.format import FileReport, Frames, Header, JournalError, Record, find_markets, read_file
from level4.journal.journal_replay import MarketReplay
from level4.market.hub import EventHub


@dataclass
class ExportResult:
    markets: int = 0
    frames: int = 0
    events: int = 0
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    files: int = 0
    reports: list[FileReport] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # market tag -> why none of its rows were kept
    vanished: list[Path] = field(default_factory=list)  # removed (by retention) before they were read

    def damaged(self) -> list[FileReport]:
        return [r for r in self.reports if r.discarded]


def record_time(record: Record, previous: float) -> float:
    """When the record's content reached the market: a batch's last frame's receipt time."""
    if type(record) is Frames:
        return record.batch[-1][0] if record.batch else previous
    if type(record) is Header:
        return record.created
    at = getattr(record, "time", None)
    return previous if at is None else float(at)


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def export_journal(
    paths: list[Path],
    out: Path,
    *,
    depth: int = 25,
    interval_ns: int = 1_000_000_000,
    scale: int = 18,
    datasets: tuple[str, ...] = DATASETS,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Export the journals under `paths` (journal, market directories or
    files) into `out/<dataset>/market=<tag>/date=<day>/part-N.parquet`.
    `progress(bytes read, events)` is called now and then."""
    started = time.perf_counter()
    writers = {name: DatasetWriter(out, name, scale) for name in datasets}
    rows = EventRows(writers, depth, interval_ns)
    result = ExportResult()
    clock = [0.0]  # the time of the record being replayed
    errors: list[Exception] = []

    def on_event(event: dict[str, Any]) -> None:
        # The hub logs and swallows a consumer's exception: kept here, raised after the record.
        try:
            rows.event(event, clock[0])
        except Exception as exc:
            errors.append(exc)

    hub = EventHub()
    hub.subscribe(on_event)
    done_bytes = 0
    for files in find_markets(paths):
        market = MarketReplay(hub)
        sizes = [file_size(p) for p in files.files]
        left = sum(sizes)
        try:
            for path, size in zip(files.files, sizes, strict=True):
                report = FileReport(path)
                result.reports.append(report)
                try:
                    for record in read_file(path, report):
                        clock[0] = record_time(record, clock[0])
                        market.feed(record)
                        if errors:
                            raise errors[0]
                        if progress is not None:
                            progress(done_bytes, rows.events)
                except FileNotFoundError:
                    # A live journal's retention removed it (it reads a file whole, at its first record).
                    result.vanished.append(path)
                done_bytes += size
                left -= size
            market.finish()  # a tree that stopped in order: at the time of its end record
            if errors:
                raise errors[0]
            rows.finish_market()
            for writer in writers.values():
                writer.close()
        except (ValueTooWide, JournalError) as exc:  # this market's: the others go on
            tag = market.tag or str(files.directory)
            result.failed[tag] = str(exc)
            errors.clear()
            rows.drop_market()
            for writer in writers.values():
                writer.discard(tag)
            done_bytes += left
        result.frames += market.frames
        result.markets += 1 if market.tag is not None else 0
    if progress is not None:
        progress(done_bytes, rows.events)
    result.events = rows.events
    result.rows = {name: w.written_rows for name, w in writers.items()}
    result.bytes = {name: w.written_bytes for name, w in writers.items()}
    result.files = sum(len(w.files) for w in writers.values())
    result.seconds = time.perf_counter() - started
    return result
