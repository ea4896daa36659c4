"""One module per venue dialect (`<venue>_dialect.py`), each exporting `dialect`."""

from __future__ import annotations

import importlib
from typing import cast

from level4.simulator.dialects.dialect_base import Dialect


class UnknownDialect(KeyError):
    def __str__(self) -> str:
        return f"the simulator has no {self.args[0]!r} dialect"


def dialect_for(venue: str) -> Dialect:
    name = venue.lower()
    try:
        module = importlib.import_module(f"level4.simulator.dialects.{name}_dialect")
    except ModuleNotFoundError as exc:
        if exc.name != f"level4.simulator.dialects.{name}_dialect":
            raise
        raise UnknownDialect(venue) from None
    return cast(Dialect, module.dialect)
