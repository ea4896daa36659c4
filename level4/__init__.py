"""level4: live, exact level-2 order books from many crypto venues."""

__version__ = "0.1.0"
