"""Nodes starting at the same moment migrate one catalogue safely: the advisory lock
makes one of them migrate and the others find nothing to do."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from level4.catalogue.migrate import head
from tests.cluster.cluster_processes import ROOT, fresh_database

pytestmark = pytest.mark.postgres


def test_three_processes_migrating_one_new_database_at_once_all_succeed() -> None:
    base = os.environ.get("LEVEL4_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("LEVEL4_TEST_POSTGRES_URL is needed")
    with fresh_database(base) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "level4", "migrate", "--database-url", url],
                env={**env, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outputs
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head()
                assert conn.execute(text("SELECT count(*) FROM market_leases")).scalar_one() == 0
        finally:
            engine.dispose()
        assert sum('"changed": true' in o or "changed=True" in o for o in outputs) == 1, outputs
