"""One module per venue dialect, each exporting `dialect`."""

from __future__ import annotations

import importlib
from typing import cast

from level4.simulator.dialects.base import Dialect


def dialect_for(venue: str) -> Dialect:
    name = venue.lower()
    try:
        module = importlib.import_module(f"level4.simulator.dialects.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"level4.simulator.dialects.{name}":
            raise
        raise KeyError(f"the simulator has no {venue!r} dialect") from None
    return cast(Dialect, module.dialect)
