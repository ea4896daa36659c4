"""The datasets and their columns, by kind (export_schema gives the kinds
their Arrow types). Without pyarrow, so the command can list the datasets
when pyarrow is not installed."""

from __future__ import annotations

# Column kinds: how a buffered Python value becomes an Arrow value.
TIME, DECIMAL, TEXT, INT64, INT32, BOOL = "time", "decimal", "text", "int64", "int32", "bool"

COLUMNS: dict[str, list[tuple[str, str]]] = {
    "trades": [
        ("market", TEXT),
        ("venue_time", TIME),
        ("received_at", TIME),
        ("sequence", INT64),
        ("trade_id", TEXT),
        ("side", TEXT),
        ("price", DECIMAL),
        ("size", DECIMAL),
    ],
    "book_changes": [
        ("market", TEXT),
        ("venue_time", TIME),
        ("received_at", TIME),
        ("sequence", INT64),
        ("is_snapshot", BOOL),
        ("synchronised", BOOL),
        ("reason", TEXT),
        ("side", TEXT),
        ("price", DECIMAL),
        ("size", DECIMAL),
        ("orders", INT32),
    ],
    "book_snapshots": [
        ("market", TEXT),
        ("timestamp", TIME),
        ("sequence", INT64),
        ("synchronised", BOOL),
        ("level", INT32),
        ("bid_price", DECIMAL),
        ("bid_size", DECIMAL),
        ("ask_price", DECIMAL),
        ("ask_size", DECIMAL),
    ],
    "quotes": [
        ("market", TEXT),
        ("venue_time", TIME),
        ("received_at", TIME),
        ("sequence", INT64),
        ("bid_price", DECIMAL),
        ("bid_size", DECIMAL),
        ("ask_price", DECIMAL),
        ("ask_size", DECIMAL),
    ],
}
DATASETS = tuple(COLUMNS)
