"""Retention: oldest files go first, the file being written never does."""

from __future__ import annotations

import os
from pathlib import Path

from level4.journal import retention
from level4.journal.format import file_name
from level4.journal.retention import FileInfo, Limits, expired


def infos(*sizes_and_ages: tuple[int, float], now: float = 10_000.0) -> list[FileInfo]:
    return [FileInfo(Path(f"{n:08d}"), size, now - age) for n, (size, age) in enumerate(sizes_and_ages, 1)]


def test_no_limits_keep_everything() -> None:
    files = infos((10, 5000), (10, 10))
    assert Limits().unlimited and expired(files, Limits(), 10_000.0) == []


def test_each_limit_removes_the_oldest_first_and_never_the_current_file() -> None:
    files = infos((100, 900), (100, 500), (100, 300), (100, 10))
    names = [f.path for f in files]
    assert expired(files, Limits(max_files=2), 10_000.0) == names[:2]
    assert expired(files, Limits(max_bytes=250), 10_000.0) == names[:2]
    assert expired(files, Limits(max_age=400), 10_000.0) == names[:2]
    # the current file counts towards the limits but is never removed, even when it alone is over
    assert expired(files, Limits(max_files=1), 10_000.0, keep=names[3]) == names[:3]
    assert expired(files[3:], Limits(max_bytes=50, max_files=1, max_age=1), 10_000.0, keep=names[3]) == []
    # limits together: whichever removes more
    assert expired(files, Limits(max_files=3, max_age=600), 10_000.0) == names[:1]
    assert expired(files, Limits(max_files=3, max_bytes=150), 10_000.0) == names[:3]


def test_apply_removes_from_a_market_directory(tmp_path: Path) -> None:
    now = 1_000_000.0
    paths = []
    for seq, age in enumerate((5000.0, 4000.0, 100.0, 0.0), 1):
        path = tmp_path / file_name(seq, now - age)
        path.write_bytes(b"x" * 10)
        os.utime(path, (now - age, now - age))
        paths.append(path)
    (tmp_path / "notes.txt").write_text("not a journal file: left alone")
    removed = retention.apply(tmp_path, Limits(max_age=3600), keep=paths[-1], now=now)
    assert removed == paths[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([paths[2].name, paths[3].name, "notes.txt"])
