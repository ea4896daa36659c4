"""Journal settings: where, when to rotate, how much to keep.

From the environment (`LEVEL4_JOURNAL*`), overridable on the command line
(`--journal DIR` and friends). Sizes take K/M/G suffixes (powers of 1024),
ages s/m/h/d.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DEFAULT_ROTATE_BYTES = 64 * 1024**2

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_AGE_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_size(text: str) -> int:
    """`65536`, `64K`, `64M`, `1G` (powers of 1024) -> bytes."""
    match = _SIZE.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a size: {text!r} (e.g. 64M, 1G, 65536)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def parse_age(text: str) -> float:
    """`3600`, `90m`, `12h`, `7d` -> seconds."""
    match = _AGE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not an age: {text!r} (e.g. 7d, 12h, 90m, 3600)")
    return float(match.group(1)) * _AGE_UNITS[match.group(2).lower()]


def _env(name: str, parse: Callable[[str], T]) -> T | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse(raw)
    except ValueError as exc:
        raise SystemExit(f"{name}: {exc}") from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"must be at least 1, got {text!r}")
    return value


@dataclass
class JournalOptions:
    directory: Path | None = None  # None: no journal
    rotate_bytes: int = DEFAULT_ROTATE_BYTES  # a file is closed once it has grown past this
    # Retention, per market; None keeps everything. The file being written is never removed.
    max_files: int | None = None
    max_bytes: int | None = None
    max_age: float | None = None  # seconds since the file was last written
    # Received frames waiting for the writer, in bytes; beyond it frames are dropped
    # (and the gap recorded) rather than letting memory grow or the IO loop wait.
    max_pending_bytes: int = 64 * 1024**2

    @classmethod
    def from_env(cls) -> JournalOptions:
        options = cls()
        directory = os.environ.get("LEVEL4_JOURNAL_DIR", "").strip()
        options.directory = Path(directory) if directory else None
        rotate = _env("LEVEL4_JOURNAL_ROTATE", parse_size)
        if rotate is not None:
            options.rotate_bytes = rotate
        options.max_files = _env("LEVEL4_JOURNAL_MAX_FILES", _positive_int)
        options.max_bytes = _env("LEVEL4_JOURNAL_MAX_BYTES", parse_size)
        options.max_age = _env("LEVEL4_JOURNAL_MAX_AGE", parse_age)
        return options


def _arg(parse: Callable[[str], T]) -> Callable[[str], T]:
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("journal")
    group.add_argument("--journal", type=Path, metavar="DIR", help="record every received frame here (replayable)")
    group.add_argument("--journal-rotate", type=_arg(parse_size), metavar="SIZE", help="start a new file past SIZE")
    group.add_argument("--journal-max-files", type=_arg(_positive_int), metavar="N", help="keep N files per market")
    group.add_argument("--journal-max-bytes", type=_arg(parse_size), metavar="SIZE", help="keep SIZE per market")
    group.add_argument("--journal-max-age", type=_arg(parse_age), metavar="AGE", help="drop files older than AGE")


def apply_arguments(args: argparse.Namespace, options: JournalOptions) -> None:
    """Command-line values over the environment's."""
    if getattr(args, "journal", None) is not None:
        options.directory = args.journal
    for name, attr in (
        ("journal_rotate", "rotate_bytes"),
        ("journal_max_files", "max_files"),
        ("journal_max_bytes", "max_bytes"),
        ("journal_max_age", "max_age"),
    ):
        value = getattr(args, name, None)
        if value is not None:
            setattr(options, attr, value)
