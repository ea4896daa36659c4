"""One dataset's Parquet files, Hive-partitioned by market and UTC date.

Rows are buffered as tuples, turned into compact Arrow columns every few
thousand rows, and written as one row group when 65,536 rows have piled up,
so memory stays bounded whatever the journal's size (a few MB a dataset) while
readers get row groups big enough to scan well. One file
is open at a time per dataset: a market's rows come in time order, so a
partition is finished when the next one begins. A file is written under a
hidden temporary name and renamed when closed: readers globbing
`**/*.parquet` never see a half-written one.

The partition directory holds the tag percent-encoded (`market=COINBASE.SPOT%3ABTC-USD`):
the characters the journal keeps in its directory names stay as they are,
and DuckDB, polars and pyarrow decode the rest, so the partition column
they add (which takes the place of the file's own `market`) is the exact tag.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from level4.export.dataset_columns import COLUMNS
from level4.export.export_schema import DAY_NS, column_array, schema

ROWS_PER_GROUP = 65_536
ROWS_PER_CHUNK = 8_192  # Python tuples (a few hundred bytes a row) before they become Arrow (tens)
Key = tuple[str, int]  # (market tag, UTC day number)


def partition_dir(root: Path, dataset: str, key: Key) -> Path:
    tag, day = key
    date = datetime.date(1970, 1, 1) + datetime.timedelta(days=day)
    return root / dataset / f"market={quote(tag, safe='')}" / f"date={date.isoformat()}"


def day_of(ns: int) -> int:
    return ns // DAY_NS


class DatasetWriter:
    def __init__(self, root: Path, dataset: str, scale: int, rows_per_group: int = ROWS_PER_GROUP) -> None:
        self.root = root
        self.dataset = dataset
        self.scale = scale
        self.columns = COLUMNS[dataset]
        self.schema = schema(dataset, scale)
        self.rows_per_group = rows_per_group
        self.key: Key | None = None
        self.rows: list[tuple[Any, ...]] = []
        self.chunks: list[pa.RecordBatch] = []
        self._chunked = 0  # rows in chunks
        self._writer: pq.ParquetWriter | None = None
        self._temp: Path | None = None
        self._final: Path | None = None
        self._file_rows = 0
        self.files: dict[Path, tuple[str, int, int]] = {}  # finished file -> (market tag, rows, bytes)

    def add(self, key: Key, row: tuple[Any, ...]) -> None:
        if key != self.key:
            self.close()
            self.key = key
        rows = self.rows
        rows.append(row)
        if len(rows) >= ROWS_PER_CHUNK:
            self._chunk()
            if self._chunked >= self.rows_per_group:
                self.flush()

    def add_many(self, key: Key, rows: list[tuple[Any, ...]]) -> None:
        """The rows of one event (a book snapshot's levels) at once."""
        if key != self.key:
            self.close()
            self.key = key
        self.rows.extend(rows)
        if len(self.rows) >= ROWS_PER_CHUNK:
            self._chunk()
            if self._chunked >= self.rows_per_group:
                self.flush()

    def _chunk(self) -> None:
        """The buffered tuples as Arrow columns (checking every price and size fits)."""
        if not self.rows:
            return
        values = list(zip(*self.rows, strict=True))
        self.rows = []
        arrays = [column_array(n, k, v, self.scale) for (n, k), v in zip(self.columns, values, strict=True)]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        self.chunks.append(batch)
        self._chunked += batch.num_rows

    def flush(self) -> None:
        """Everything buffered as one row group."""
        self._chunk()
        if not self.chunks:
            return
        table = pa.Table.from_batches(self.chunks, schema=self.schema)
        self.chunks, self._chunked = [], 0
        if self._writer is None:
            self._open()
        assert self._writer is not None
        self._writer.write_table(table, row_group_size=len(table))
        self._file_rows += len(table)

    def _open(self) -> None:
        assert self.key is not None
        directory = partition_dir(self.root, self.dataset, self.key)
        directory.mkdir(parents=True, exist_ok=True)
        # A partition met again (a clock set back, a market in two journals) gets another file.
        n = 0
        while (directory / f"part-{n}.parquet").exists():
            n += 1
        self._final = directory / f"part-{n}.parquet"
        self._temp = directory / f".part-{n}.parquet.tmp"
        self._writer = pq.ParquetWriter(self._temp, self.schema, compression="zstd")
        self._file_rows = 0

    def close(self) -> None:
        """Write what is buffered and finish the open file."""
        self.flush()
        if self._writer is not None:
            assert self._temp is not None and self._final is not None
            self._writer.close()
            self._temp.rename(self._final)
            assert self.key is not None
            self.files[self._final] = (self.key[0], self._file_rows, self._final.stat().st_size)
        self._writer = self._temp = self._final = None
        self.key = None

    def discard(self, tag: str) -> None:
        """Remove every row of a market whose export failed: a dataset never
        holds part of a market's journal without saying so."""
        self.rows, self.chunks, self._chunked = [], [], 0
        if self._writer is not None:
            assert self._temp is not None
            self._writer.close()
            self._temp.unlink(missing_ok=True)
        self._writer = self._temp = self._final = None
        self.key = None
        for path in [p for p, (t, _, _) in self.files.items() if t == tag]:
            path.unlink(missing_ok=True)
            del self.files[path]

    @property
    def written_rows(self) -> int:
        return sum(rows for _, rows, _ in self.files.values())

    @property
    def written_bytes(self) -> int:
        return sum(size for _, _, size in self.files.values())
