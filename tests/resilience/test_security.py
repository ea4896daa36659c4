"""Security of the control surface as deployed: HTTPS with a certificate of
one's own, and no secret - the API token, a database password, a token a
client got wrong - in any log line, whatever happens."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import ssl
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import POSTGRES_ENV
from tests.resilience.pg import private_schema
from tests.service.test_end_to_end import free_port
from tests.support import SimulatorThread, wait_for

pytestmark = pytest.mark.slow

TOKEN = "tok-7c1e5a0b9d2f4e6a8c3b"
PASSWORD = "pw-Qz81xLm0RvT3"  # must never reach a log line


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certfile, keyfile


def serve(tmp_path: Path, db_url: str, port: int, *args: str, token: str | None = TOKEN) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
    env |= {"LEVEL4_DATABASE_URL": db_url, "LEVEL4_PORT": str(port), "LEVEL4_LOG_LEVEL": "DEBUG"}
    if token:
        env["LEVEL4_API_TOKEN"] = token
    log = open(tmp_path / "serve.log", "ab")  # noqa: SIM115 - the process owns it until it exits
    return subprocess.Popen(
        [sys.executable, "-m", "level4", "serve", *args], env=env, stdout=log, stderr=log, cwd=tmp_path
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def test_the_api_is_served_over_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    certfile, keyfile = self_signed(tmp_path)
    port = free_port()
    proc = serve(
        tmp_path,
        f"sqlite:///{tmp_path / 'c.sqlite3'}",
        port,
        "--ssl-certfile",
        str(certfile),
        "--ssl-keyfile",
        str(keyfile),
    )
    try:
        base = f"https://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return (
                    httpx.get(
                        f"{base}/health", verify=ssl.create_default_context(cafile=str(certfile)), timeout=2
                    ).status_code
                    == 200
                )
            except httpx.HTTPError:
                return proc.poll() is not None

        wait_for(up, timeout=30, what="HTTPS up")
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        api = httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=str(certfile)), timeout=10)
        assert api.post("/symbols", json={"symbol": "BTC"}).status_code == 401
        r = api.post("/symbols", json={"symbol": "BTC"}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 201 and r.json()["symbol"] == "BTC"
        # it is really TLS: an unknown certificate is refused, and plain HTTP gets no answer
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{base}/health", timeout=5)
        with pytest.raises(httpx.HTTPError):
            r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
            assert r.status_code >= 400
            raise httpx.HTTPError("plain HTTP answered with an error")
    finally:
        stop(proc)


def test_no_secret_reaches_any_log_line(tmp_path: Path) -> None:
    """The service at DEBUG through everything that logs: start, catalogue
    calls, refused tokens, a market live and failing, a database that is not
    there. Neither the token, nor a token a client tried, nor the database
    password may appear in any line."""
    wrong_token = "wrong-8d1f0c77a2"
    # A database that is not there, named with a password: started first, so that its start and
    # failure overlap the run below; a log of its own, so neither process splits the other's lines.
    down_dir = tmp_path / "down"
    down_dir.mkdir()
    down = f"postgresql+psycopg://level4:{PASSWORD}@127.0.0.1:{free_port()}/nowhere"
    failed = serve(down_dir, down, free_port())
    try:
        with ExitStack() as stack:
            if os.environ.get(POSTGRES_ENV, "").strip():
                url = stack.enter_context(private_schema())  # trust auth: the password is sent, not needed
                db_url = url.set(password=PASSWORD).render_as_string(hide_password=False)
            else:  # SQLite has no password; the database-down case still has one
                db_url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
            run_through_everything(tmp_path, db_url, wrong_token)
        assert failed.wait(60) != 0
    finally:
        if failed.poll() is None:
            stop(failed)

    log = (tmp_path / "serve.log").read_text() + (down_dir / "serve.log").read_text()
    assert "market_started" in log and "start_failed" in log  # the log did see all of it
    for secret in (TOKEN, wrong_token, PASSWORD):
        leaks = [line for line in log.splitlines() if secret in line]
        assert leaks == [], f"{secret!r} in the log:\n" + "\n".join(leaks[:5])


def run_through_everything(tmp_path: Path, db_url: str, wrong_token: str) -> None:
    port = free_port()
    with SimulatorThread("coinbase", ["BTC-USD"], rate=100) as sim:
        proc = serve(tmp_path, db_url, port)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: _answers(f"{base}/health") or proc.poll() is not None, timeout=30, what="up")
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            good = {"Authorization": f"Bearer {TOKEN}"}
            bad = {"Authorization": f"Bearer {wrong_token}"}
            api = httpx.Client(base_url=base, timeout=10)
            assert api.post("/symbols", json={"symbol": "BTC"}, headers=bad).status_code == 401
            assert (
                api.post("/symbols", json={"symbol": "ZZZZ"}, headers={"Authorization": wrong_token}).status_code == 401
            )
            for symbol in ("BTC", "USD"):
                api.post("/symbols", json={"symbol": symbol}, headers=good)
            exchange = {"name": "COINBASE", "ws_url": sim.url}
            assert api.post("/exchanges", json=exchange, headers=good).status_code == 201
            market = api.post(
                "/markets", json={"exchange": "COINBASE", "base_symbol": "BTC", "quote_symbol": "USD"}, headers=good
            ).json()
            api.patch(f"/markets/{market['id']}", json={"level4_feed_enabled": True}, headers=good)
            wait_for(lambda: api.get(f"/markets/{market['id']}").json()["status"] == "live", what="live")
            httpx.get(f"{sim.http}/control/faults", params={"garbage": 0.2, "disconnect": 0.05})
            wait_for(lambda: sim.sim.faults.injected["disconnect"] >= 2, what="faults met")
            api.delete(f"/markets/{market['id']}", headers=good)
        finally:
            stop(proc)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False
