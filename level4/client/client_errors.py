"""What can go wrong for a client of the service, as exceptions that say why.

Every wait the library offers ends in a value or one of these: never a hang.
"""

from __future__ import annotations


class ClientError(Exception):
    """The base of every error the client raises."""


class Unauthorized(ClientError):
    """The service wants a token (`LEVEL4_API_TOKEN`) and was given none or a wrong one.
    Fatal: the client stops reconnecting."""


class UnknownMarket(ClientError, LookupError):
    """No market has that tag or id, or no market matches that pattern."""


class ServiceUnavailable(ClientError, ConnectionError):
    """The service could not be reached, or answered with an error of its own."""


class RequestRefused(ClientError):
    """The service refused a request as a whole (`invalid`, `too_large`, ...)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class NotSynchronised(ClientError, TimeoutError):
    """A mirror did not become synchronised in time; the message says why it is not."""


class SlowConsumer(ClientError):
    """A feed's reader fell behind its bound: events were lost, so the feed ends."""


class ClientClosed(ClientError):
    """The client was closed: nothing more will arrive."""
