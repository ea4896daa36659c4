"""`level4 export` on a terminal draws a progress bar on stderr; elsewhere it
stays quiet (test_export_values checks stderr is empty there)."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
import pytest

from tests.export.journals import match, record, snapshot

pytestmark = pytest.mark.slow


def test_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    batches = [[snapshot([["100", "1"]], [["101", "1"]])], *([match(n + 1, "buy", "100", "1")] for n in range(50))]
    record(tmp_path / "journal", batches)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "level4", "export", str(tmp_path / "journal"), "--out", str(tmp_path / "out")],
        cwd=str(Path(__file__).resolve().parents[2]),
        encoding="utf-8",
        timeout=60,
    )
    child.expect(r"export \[#{30}\] 100% .* events")  # the final state of the bar
    child.expect(r'\{"markets":1,')
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
