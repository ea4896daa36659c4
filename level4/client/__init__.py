"""level4.client: live, exact mirrors of the service's books over /stream,
with gap handling, reconnects, market patterns and a blocking facade.

Only the public API over the wire is used (`GET /markets`, `GET
/markets/{id}/top`, `/stream`): nothing of the service is imported.
"""

from level4.client.async_client import Client
from level4.client.book_mirror import BookMirror, BookView, Side
from level4.client.client_errors import (
    ClientClosed,
    ClientError,
    NotSynchronised,
    RequestRefused,
    ServiceUnavailable,
    SlowConsumer,
    Unauthorized,
    UnknownMarket,
)
from level4.client.client_records import Level, Top, Trade
from level4.client.reconnect_policy import ReconnectPolicy
from level4.client.sync_facade import SyncBook, SyncClient

__all__ = [
    "BookMirror",
    "BookView",
    "Client",
    "ClientClosed",
    "ClientError",
    "Level",
    "NotSynchronised",
    "ReconnectPolicy",
    "RequestRefused",
    "ServiceUnavailable",
    "Side",
    "SlowConsumer",
    "SyncBook",
    "SyncClient",
    "Top",
    "Trade",
    "Unauthorized",
    "UnknownMarket",
]
