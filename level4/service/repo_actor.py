"""The repo actor: the one owner of the catalogue connection pool.

Callers use its proxy (`repo.proxy().add_symbol("BTC").get()`); an error
raised by the catalogue travels back to the caller in the future and never
takes the actor down.
"""

from __future__ import annotations

from typing import Any

from level4.catalogue import Catalogue
from level4.supervision.supervised import SupervisedActor


class RepoActor(SupervisedActor):
    # Its own thread: every call is a database round trip, seconds long while the
    # database is slow or away, which must not hold a scheduler worker.
    dispatcher = "thread"

    def __init__(self, url: str, **supervision: Any) -> None:
        super().__init__(**supervision)
        self.url = url
        self.catalogue: Catalogue | None = None

    def on_start(self) -> None:
        self.catalogue = Catalogue(self.url)

    def on_stop(self) -> None:
        if self.catalogue is not None:
            self.catalogue.close()

    def call(self, method: str, *args: Any) -> Any:
        assert self.catalogue is not None
        return getattr(self.catalogue, method)(*args)
