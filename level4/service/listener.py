"""The control API's listening socket, bound before anything else starts.

A port that is taken (or an address that is not this machine's) is a mistake in
the configuration, reported at once with what to do; bound inside the
supervision tree it would be a crash, restarted until the supervisor gives up.
Standard library only, so that the command line can check the port before it
imports the service.
"""

from __future__ import annotations

import socket


class ListenError(Exception):
    """The control API's address cannot be listened on (taken, not ours, bad name)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        super().__init__(f"cannot listen on {host}:{port}: {reason}")

    def advice(self) -> str:
        if self.reason == "address already in use":
            return f"another process is listening on port {self.port}; stop it or choose another port with --port"
        return "choose another address with --host / --port"


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port); ListenError if it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ListenError(host, port, f"unknown host ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a restarted service may rebind while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ListenError(host, port, (exc.strerror or str(exc)).lower()) from None
    return sock
