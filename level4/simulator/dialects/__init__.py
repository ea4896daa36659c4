"""One module per venue dialect (`<venue>_dialect.py`), each exporting `dialect`."""

from __future__ import annotations

import importlib
from typing import cast

from level4.simulator.dialects.dialect_base import Dialect


class UnknownDialect(KeyError):
    def __str__(self) -> str:
        return f"the simulator has no {self.args[0]!r} dialect"


# A venue's other APIs' dialects: (venue, api) -> (module, object); its first API's is
# `<venue>_dialect.dialect` unless named here under api "" (Kraken spot's first API is
# v2; its v1 dialect stays, for the v1 scheme that replays v1 sessions).
API_DIALECTS: dict[tuple[str, str], tuple[str, str]] = {
    ("BINANCE", "usdm"): ("binance_futures_dialect", "usdm"),
    ("BINANCE", "coinm"): ("binance_futures_dialect", "coinm"),
    ("KRAKEN", ""): ("kraken_v2_dialect", "dialect"),
    ("KRAKEN", "v1"): ("kraken_dialect", "dialect"),
    ("KRAKEN", "futures"): ("kraken_futures_dialect", "dialect"),
}


def dialect_for(venue: str, api: str = "") -> Dialect:
    found = API_DIALECTS.get((venue.upper(), api))
    if found is not None:
        return cast(Dialect, getattr(importlib.import_module(f"level4.simulator.dialects.{found[0]}"), found[1]))
    if api:
        raise UnknownDialect(f"{venue} {api}")
    name = venue.lower()
    try:
        module = importlib.import_module(f"level4.simulator.dialects.{name}_dialect")
    except ModuleNotFoundError as exc:
        if exc.name != f"level4.simulator.dialects.{name}_dialect":
            raise
        raise UnknownDialect(venue) from None
    return cast(Dialect, module.dialect)
