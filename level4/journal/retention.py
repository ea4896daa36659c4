"""Which of a market's journal files to remove: the oldest first, never
the one being written."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from level4.journal.format import journal_files


@dataclass(frozen=True, slots=True)
class Limits:
    max_files: int | None = None
    max_bytes: int | None = None
    max_age: float | None = None  # seconds since last written

    @property
    def unlimited(self) -> bool:
        return self.max_files is None and self.max_bytes is None and self.max_age is None


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: Path
    size: int
    mtime: float


def expired(files: list[FileInfo], limits: Limits, now: float, keep: Path | None = None) -> list[Path]:
    """The files (oldest first in `files`) that the limits remove."""
    doomed: list[Path] = []
    left = [f for f in files if f.path != keep]
    kept_extra = 0 if keep is None else 1
    if limits.max_age is not None:
        cutoff = now - limits.max_age
        doomed += [f.path for f in left if f.mtime < cutoff]
        left = [f for f in left if f.mtime >= cutoff]
    if limits.max_files is not None:
        excess = len(left) + kept_extra - limits.max_files
        if excess > 0:
            doomed += [f.path for f in left[:excess]]
            left = left[excess:]
    if limits.max_bytes is not None:
        total = sum(f.size for f in left) + sum(f.size for f in files if f.path == keep)
        while left and total > limits.max_bytes:
            total -= left[0].size
            doomed.append(left.pop(0).path)
    return doomed


def apply(directory: Path, limits: Limits, keep: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove what the limits say from one market's directory; returns what went."""
    if limits.unlimited:
        return []
    infos: list[FileInfo] = []
    for path in journal_files(directory):
        with contextlib.suppress(FileNotFoundError):
            st = path.stat()
            infos.append(FileInfo(path, st.st_size, st.st_mtime))
    removed = expired(infos, limits, time.time() if now is None else now, keep)
    for path in removed:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return removed
