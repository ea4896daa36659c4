"""Result tables, printed aligned for a terminal and as org-mode for README.org."""

from __future__ import annotations

from typing import Any


class Table:
    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.rows: list[list[str]] = []

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def _widths(self) -> list[int]:
        return [max(len(r[i]) for r in [self.header, *self.rows]) for i in range(len(self.header))]

    def org(self) -> str:
        widths = self._widths()

        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        rule = "|" + "+".join("-" * (w + 2) for w in widths) + "|"
        return "\n".join([line(self.header), rule, *(line(r) for r in self.rows)])
