"""uvicorn's websocket protocol, but a close is written even while the
connection's transport is paused.

uvicorn holds every outgoing message, the close too, until the transport
drains; a /stream client that stops reading never lets it drain, so its
slow-consumer close (1008 and the reason) would wait until the keepalive ping
fails the connection as 1011 "keepalive ping timeout". Written at once, the
close frame waits behind the bytes already buffered: the client reads the
reason when it reads again, and the keepalive, seeing the close sent, stands
down.

The write flow control this relies on came with uvicorn 0.52.1:
https://www.uvicorn.org/release-notes/ ("Add missing write flow control to
the websockets-sansio implementation", #3048)."""

from __future__ import annotations

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class ClosingWebSocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] != "websocket.close" or self.writable.is_set() or not self.handshake_complete:
            await super().send(message)
            return
        # Paused: let this one message through (the base class writes it without yielding), then pause again.
        self.writable.set()
        try:
            await super().send(message)
        finally:
            if not self.disconnected:
                self.writable.clear()
