"""The dataset writer: bounded buffers, full row groups, partitions, no half-written file visible."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from level4.export.parquet_writer import ROWS_PER_GROUP, DatasetWriter, partition_dir


def test_rows_become_row_groups_of_the_set_size_and_files_appear_whole(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, "trades", 18)
    day = 20_000  # 2024-10-04
    n = 2 * ROWS_PER_GROUP + 1234
    for i in range(n):
        writer.add(("X.SPOT:A/B", day), ("X.SPOT:A/B", None, i, i + 1, str(i), "buy", "1.5", "0.25"))
        if i == ROWS_PER_GROUP + 10:
            # mid-way: one row group written, under a hidden name no `*.parquet` glob finds
            assert list(tmp_path.rglob("*.parquet")) == []
            assert len(list(tmp_path.rglob(".part-0.parquet.tmp"))) == 1
            assert len(writer.rows) < 8_192 + 1  # the Python buffer stays small
    writer.close()
    (path,) = writer.files
    assert path == partition_dir(tmp_path, "trades", ("X.SPOT:A/B", day)) / "part-0.parquet"
    assert path.parent.as_posix().endswith("trades/market=X.SPOT%3AA%2FB/date=2024-10-04")
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [ROWS_PER_GROUP, ROWS_PER_GROUP, 1234]
    assert writer.written_rows == n and not list(tmp_path.rglob("*.tmp"))
    table = pq.read_table(path)
    assert table.column("sequence").to_pylist()[-3:] == [n - 2, n - 1, n]


def test_a_partition_met_again_gets_another_file(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, "trades", 18)
    row = ("M", None, 1, 1, None, None, "1", "1")
    for day in (1, 2, 1):
        writer.add(("M", day), row)
    writer.close()
    names = sorted(p.relative_to(tmp_path).as_posix() for p in writer.files)
    assert names == [
        "trades/market=M/date=1970-01-02/part-0.parquet",
        "trades/market=M/date=1970-01-02/part-1.parquet",
        "trades/market=M/date=1970-01-03/part-0.parquet",
    ]
