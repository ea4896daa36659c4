"""Where the recorded venue sessions live: read in place, never copied."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CAPTURES = Path(os.environ.get("LEVEL4_CAPTURES", Path(__file__).resolve().parents[2] / "shared" / "captures"))


def capture(name: str) -> Path:
    path = CAPTURES / name
    if not path.exists():
        if os.environ.get("LEVEL4_REQUIRE_CAPTURES"):
            pytest.fail(f"capture {name} not found under {CAPTURES}")
        pytest.skip(f"capture {name} not found under {CAPTURES} (set LEVEL4_CAPTURES)")
    return path
