"""README.org's Two commands: the first installs what users get (the compiled build, not
the editable pure-Python one), the second is the test command CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def section(title: str) -> str:
    return (ROOT / "README.org").read_text().split(f"\n* {title}\n", 1)[1].split("\n* ", 1)[0]


def commands(title: str) -> list[list[str]]:
    """Each sh block of the section as its commands (split at &&)."""
    found = re.findall(r"#\+begin_src sh\n(.*?)#\+end_src", section(title), re.S)
    return [[c.strip() for c in block.strip().split("&&")] for block in found]


def test_the_first_command_installs_the_compiled_build_and_serves() -> None:
    install = commands("Two commands")[0]
    assert install == ["python3 -m venv .venv", ".venv/bin/pip install .", ".venv/bin/level4 serve"]


def test_ci_runs_the_test_command_the_readme_gives_and_development_sets_it_up() -> None:
    tests = commands("Two commands")[1]
    ci = [re.sub(r" --quiet\b", "", line.strip()) for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    for command in tests:
        assert command in ci, f"{command!r} is not what .ci/run runs"
    assert ".venv/bin/pip install -e '.[dev]'" in tests
    assert ".venv/bin/pip install -e '.[dev]'" in section("Development")
