"""cryptofeed 2.4.1 in a virtualenv of its own (benchmarks/.cryptofeed-venv),
so that its pinned dependencies never touch level4's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

VERSION = "2.4.1"
HERE = Path(__file__).resolve().parent
VENV = Path(os.environ.get("LEVEL4_CRYPTOFEED_VENV", HERE / ".cryptofeed-venv"))
DRIVER = HERE / "cryptofeed_driver.py"


def _python() -> Path:
    return VENV / "bin" / "python"


def _installed(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('cryptofeed'))"],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and probe.stdout.strip() == VERSION


def ensure() -> tuple[Path | None, str]:
    """The interpreter with cryptofeed installed, or None and why not."""
    python = _python()
    if _installed(python):
        return python, ""
    print(f"installing cryptofeed {VERSION} into {VENV} ...", file=sys.stderr, flush=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"cryptofeed=={VERSION}"],
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cryptofeed {VERSION} could not be installed: {exc}"
    if install.returncode != 0 or not _installed(python):
        tail = (install.stderr or install.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"cryptofeed {VERSION} could not be installed: {tail[0]}"
    return python, ""


def playback(python: Path, venue: str, files: list[Path], repeats: int, checksums: bool = False) -> dict[str, Any]:
    """Run the driver on one venue's capture (with cryptofeed's checksum
    validation on, if asked); its JSON answer."""
    flags = ["--checksums"] if checksums else []
    try:
        done = subprocess.run(
            [str(python), str(DRIVER), *flags, venue, str(repeats), *map(str, files)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            answer: dict[str, Any] = json.loads(line)
            return answer
    return {"error": f"no answer (exit {done.returncode}): {done.stderr.strip()[-200:]}"}
