"""A node that cannot take part in a cluster refuses to start, saying why in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.cluster_processes import ROOT, free_port


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
    return subprocess.run(
        [sys.executable, "-m", "level4", "serve", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
    )


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (
            ["--node", "n1", "--database-url", "sqlite:///c.sqlite3"],
            {"LEVEL4_CLUSTER_BUS": "nats://127.0.0.1:4222"},
            "PostgreSQL",
        ),
        (["--node", "n1", "--database-url", "postgresql+psycopg://postgres@127.0.0.1:1/x"], {}, "LEVEL4_CLUSTER_BUS"),
        (
            ["--database-url", "sqlite:///c.sqlite3"],
            {"LEVEL4_NODE": "no spaces", "LEVEL4_CLUSTER_BUS": "nats://h:1"},
            "node name",
        ),
        (
            ["--node", "n1", "--database-url", "postgresql+psycopg://postgres@127.0.0.1:1/x"],
            {"LEVEL4_CLUSTER_BUS": "nats://127.0.0.1:4222", "LEVEL4_LEASE_TTL": "0.5"},
            "LEVEL4_LEASE_TTL",
        ),
    ],
)
def test_a_node_without_what_a_cluster_needs_refuses_to_start_in_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], says: str
) -> None:
    done = serve(tmp_path, *args, **env)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout
