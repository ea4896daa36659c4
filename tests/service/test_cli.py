"""The `level4` command's own contract: migrate, bad arguments, version."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def level4(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "level4", *args], capture_output=True, text=True, timeout=60, env=env or dict(os.environ)
    )


def test_migrate_creates_the_catalogue_and_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite3"
    for _ in range(2):
        done = level4("migrate", "--database-url", f"sqlite:///{db}")
        assert done.returncode == 0, done.stderr
        assert '"event": "migrated"' in done.stderr
    tables = {r[0] for r in sqlite3.connect(db).execute("select name from sqlite_master where type='table'")}
    assert {"symbols", "exchanges", "markets", "alembic_version"} <= tables


def test_migrate_against_an_unreachable_database_fails_clearly_without_the_password() -> None:
    done = level4("migrate", "--database-url", "postgresql+psycopg://level4:hunter2@127.0.0.1:9/nowhere")
    assert done.returncode == 1
    assert "unavailable" in done.stderr and "hunter2" not in done.stderr


def test_serve_refuses_an_unreachable_database_at_start() -> None:
    env = {**os.environ, "LEVEL4_DATABASE_URL": "postgresql+psycopg://level4:hunter2@127.0.0.1:9/nowhere"}
    env.pop("LEVEL4_API_TOKEN", None)
    done = level4("serve", "--port", "0", env=env)
    assert done.returncode == 1
    assert "start_failed" in done.stderr and "hunter2" not in done.stderr


def test_version_and_unknown_commands() -> None:
    assert level4("--version").stdout.startswith("level4 ")
    done = level4("frobnicate")
    assert done.returncode == 2 and "invalid choice" in done.stderr
    done = level4("simulate", "--venue", "nowhere")
    assert done.returncode == 2 and "the simulator has no 'NOWHERE' dialect" in done.stderr
