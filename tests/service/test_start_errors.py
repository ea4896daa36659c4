"""A port another process holds, an unreadable certificate: configuration errors reported
at start in one line, never a restart loop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from level4.config import Settings
from level4.service.listener import ListenError
from level4.service.root import Service
from tests.support import running_service, wait_for


@contextmanager
def held_port() -> Iterator[int]:
    """A port some other program listens on for the duration."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_serve_on_a_busy_port_exits_1_at_once_with_one_line_naming_the_port(tmp_path: Path) -> None:
    env = {**os.environ, "LEVEL4_DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite3'}"}
    env.pop("LEVEL4_API_TOKEN", None)
    # What starting the command line costs on this machine now (others' load included).
    began = time.monotonic()
    subprocess.run([sys.executable, "-m", "level4", "--version"], capture_output=True, timeout=30, check=True)
    startup = time.monotonic() - began
    with held_port() as port:
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "level4", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            cwd=tmp_path,
        )
        elapsed = time.monotonic() - began
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    # At once: no retries; more than 3 s only where the interpreter itself starts that slowly.
    assert elapsed < max(3.0, startup + 2.0), f"took {elapsed:.1f}s (the command line starts in {startup:.1f}s)"
    assert "Traceback" not in output
    lines = output.splitlines()
    assert len(lines) == 1, output  # nothing started, so nothing else to say
    assert f"127.0.0.1:{port}" in lines[0] and "address already in use" in lines[0] and "--port" in lines[0]
    assert not (tmp_path / "b.sqlite3").exists()  # refused before touching the catalogue


def test_console_on_a_busy_port_exits_1_with_the_same_line(tmp_path: Path) -> None:
    env = {**os.environ, "LEVEL4_DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite3'}"}
    env.pop("LEVEL4_API_TOKEN", None)
    with held_port() as port:
        done = subprocess.run(
            [sys.executable, "-m", "level4", "console", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert f"127.0.0.1:{port}: address already in use" in done.stderr


def test_a_second_service_on_a_taken_port_is_refused_and_the_first_serves_on(tmp_path: Path) -> None:
    with running_service(f"sqlite:///{tmp_path / 'a.sqlite3'}") as (first, url):
        port = first.http_port()
        second = Service(Settings(host="127.0.0.1", port=port, database_url=f"sqlite:///{tmp_path / 'b.sqlite3'}"))
        with pytest.raises(ListenError) as refused:
            second.start()
        second.stop()
        assert refused.value.port == port and "--port" in refused.value.advice
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        assert first.http_url() == f"{url}/"


def test_a_restarted_http_server_serves_the_port_the_service_holds(tmp_path: Path) -> None:
    with running_service(f"sqlite:///{tmp_path / 'r.sqlite3'}") as (service, url):
        assert service.root is not None
        supervisor = service.root.proxy()
        old = supervisor.child("http").get(timeout=5)
        old.stop()  # not asked by the supervisor: a crash, restarted on the same socket

        def restarted() -> bool:
            ref = supervisor.child("http").get(timeout=5)
            return ref is not None and ref is not old and ref.is_alive()

        wait_for(restarted, what="http restarted")
        assert wait_for(lambda: _answers(f"{url}/health"), what="served again")
        # The port stayed the service's all along: nobody else can listen there.
        with pytest.raises(ListenError):
            socket_owner = Service(Settings(host="127.0.0.1", port=service.http_port()))
            socket_owner.start()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_simulate_on_a_busy_port_exits_1_with_one_line() -> None:
    # README's walkthrough pasted twice starts a second simulator on the first one's port.
    with held_port() as port:
        done = subprocess.run(
            [sys.executable, "-m", "level4", "simulate", "--venue", "coinbase", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"level4 simulate: cannot listen on 127.0.0.1:{port}: address already in use; choose another --port"
    ]


@pytest.mark.parametrize("certificate", ["missing.pem", "garbage.pem"])
def test_serve_with_an_unreadable_certificate_exits_1_with_one_line(tmp_path: Path, certificate: str) -> None:
    (tmp_path / "garbage.pem").write_text("not a certificate\n")
    env = {**os.environ, "LEVEL4_DATABASE_URL": f"sqlite:///{tmp_path / 't.sqlite3'}"}
    env.pop("LEVEL4_API_TOKEN", None)
    cert = str(tmp_path / certificate)
    done = subprocess.run(
        [sys.executable, "-m", "level4", "serve", "--port", "0", "--ssl-certfile", cert, "--ssl-keyfile", cert],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert f"cannot serve HTTPS with {cert}" in lines[0] and "--ssl-certfile" in lines[0]
