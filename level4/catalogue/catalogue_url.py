"""Where the catalogue lives, and how its URL may be shown."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy.engine import make_url

ENV_URL = "LEVEL4_DATABASE_URL"
DEFAULT_SQLITE_FILE = "level4.sqlite3"

# user:password@ in anything that looks like a URL; the fallback when the URL does not parse.
_USERINFO_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def default_url() -> str:
    """`LEVEL4_DATABASE_URL`, else a SQLite file in the current directory.

    The path is made absolute now so that a later change of directory does not
    move the database.
    """
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return url
    return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"


def mask_url(url: str) -> str:
    """The URL with its password replaced by `***`, fit for logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL must still never leak its password
        return _USERINFO_PASSWORD.sub(r"\1***@", url)


def mask_endpoint(url: str | None) -> str | None:
    """A venue endpoint with any `user:password@` password hidden (proxies may carry one)."""
    return None if url is None else _USERINFO_PASSWORD.sub(r"\1***@", url)


def scrub(text: str, url: str) -> str:
    """Remove the URL's password from a message a driver produced."""
    try:
        password = make_url(url).password
    except Exception:
        password = None
    if password:
        text = text.replace(str(password), "***")
    return _USERINFO_PASSWORD.sub(r"\1***@", text)
