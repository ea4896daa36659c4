"""The control API's listening socket (and its TLS files), checked before anything else starts.

A port that is taken, an address that is not this machine's or a certificate that
cannot be read is a mistake in the configuration, reported at once with what to do;
found inside the supervision tree it would be a crash of the HTTP server, restarted
until the supervisor gives up. Standard library only, so that the command line can
check these before it imports the service.
"""

from __future__ import annotations

import socket
import ssl


class ServeError(Exception):
    """The control API cannot be served as configured; `code` names the problem, `advice` the way out."""

    def __init__(self, code: str, message: str, advice: str) -> None:
        super().__init__(message)
        self.code, self.advice = code, advice


class ListenError(ServeError):
    """The control API's address cannot be listened on (taken, not ours, bad name)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        if reason == "address already in use":
            advice = f"another process is listening on port {port}; stop it or choose another port with --port"
        else:
            advice = "choose another address with --host / --port"
        super().__init__("cannot_listen", f"cannot listen on {host}:{port}: {reason}", advice)


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


def check_tls(certfile: str | None, keyfile: str | None) -> None:
    """ServeError unless the certificate (and key) load as uvicorn will load them."""
    if not certfile:
        return
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile or None)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ServeError(
            "cannot_serve_tls",
            f"cannot serve HTTPS with {certfile}: {reason}",
            "give a PEM certificate and its private key with --ssl-certfile and --ssl-keyfile",
        ) from None
