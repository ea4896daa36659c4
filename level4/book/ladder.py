"""The ladder the books use: the C one where it was built (a compiled
install, see level4/compiled.py), else its pure Python twin. Both behave
alike to the last level and checksum byte; tests/book/test_ladder.py holds
them to it."""

from __future__ import annotations

try:
    from level4.book._ladder import Ladder, checksum_text

    NATIVE = True
except ImportError:  # no C compiler at install time, or an editable install
    from level4.book.pyladder import Ladder, checksum_text  # type: ignore[assignment]

    NATIVE = False

__all__ = ["NATIVE", "Ladder", "checksum_text"]
