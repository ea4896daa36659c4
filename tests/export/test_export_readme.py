"""The queries README.org's Export section prints run on an export and answer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from level4.cli import main
from tests.export.journals import match, record, snapshot, update

README = Path(__file__).resolve().parents[2] / "README.org"


def export_section() -> str:
    text = README.read_text()
    start = text.index("\n* Export\n")
    return text[start : text.index("\n* ", start + 1)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"#\+begin_src {language}\n(.*?)#\+end_src", export_section(), re.S)


def test_the_readme_queries_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = [[snapshot([["100", "1"], ["99", "2"]], [["101", "1"]])]]
    batches += [
        [update("buy", f"{99 - n}", "3"), match(n + 1, "buy" if n % 3 else "sell", "100.5", "0.5")] for n in range(40)
    ]
    record(tmp_path / "journal", batches, step=0.05)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "journal", "--out", "out"]) == 0
    (day,) = {p.name.removeprefix("date=") for p in (tmp_path / "out" / "trades").glob("*/date=*")}

    queries = blocks("sql")
    assert len(queries) == 2
    # the example's day made the day the journal was recorded on
    spread, by_side = (duckdb.sql(re.sub(r"DATE '\d{4}-\d{2}-\d{2}'", f"DATE '{day}'", q)).fetchall() for q in queries)
    assert len(spread) >= 1 and {r[2] for r in spread} == {1}  # best bid 100, best ask 101 throughout
    # 14 makers sold and 26 bought: the takers the other way round
    assert [(r[1], r[2], r[3], r[4]) for r in by_side] == [("buy", 14, 7, 703.5), ("sell", 26, 13, 1306.5)]

    (code,) = blocks("python")
    scope: dict[str, Any] = {}
    exec(code, scope)
    volume, spreads = scope["volume"], scope["spread"]
    assert isinstance(volume, pl.DataFrame) and volume["trades"].to_list() == [14, 26]
    assert spreads.height == len(spread) and set(spreads["spread"].to_list()) == {1}
