"""level4: live, exact level-2 order books from many crypto venues."""

__version__ = "0.1.0"

from level4.compiled import check as _check_compiled

_check_compiled()  # before any compiled module can be imported
