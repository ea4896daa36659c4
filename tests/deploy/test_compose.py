"""The deployment files, checked without Docker (it cannot run on the test
machines): docker-compose.yml read as compose reads it (structure, the
environment it gives level4 once interpolated, healthchecks, start order),
the Dockerfile's stages and user, and the image's healthcheck command run
for real against the service over HTTP and HTTPS."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from level4.config import Settings
from level4.sinks import parse_sinks
from tests.support import running_service

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """${VAR}, ${VAR:-default}, ${VAR:?error} as compose substitutes them."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, kind, arg = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise LookupError(f"{name}: {arg}")
        return arg if kind == "-" else ""

    return VARIABLE.sub(one, value)


def test_services_start_in_order_once_healthy() -> None:
    config = compose()
    services = {name: s for name, s in config["services"].items() if "profiles" not in s}
    assert set(services) == {"level4", "postgres", "nats"}
    level4 = services["level4"]
    assert level4["build"] == "."
    assert level4["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "nats": {"condition": "service_healthy"},
    }
    for name in ("postgres", "nats"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
        assert check["retries"] >= 3
    # level4's own check is the image's (the Dockerfile's HEALTHCHECK): compose only retimes it
    assert "test" not in level4.get("healthcheck", {}) and not level4.get("healthcheck", {}).get("disable")
    assert "nats" in services["nats"]["image"] and "--jetstream" in services["nats"]["command"]
    assert services["postgres"]["image"].startswith("postgres:")
    named = {v.split(":", 1)[0] for s in services.values() for v in s.get("volumes", [])}
    assert named <= set(config["volumes"]), "every named volume is declared"
    for s in services.values():
        assert s["restart"] == "unless-stopped"


def test_level4_is_configured_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = compose()
    env = {"LEVEL4_API_TOKEN": "t0ken", "POSTGRES_PASSWORD": "pw"}
    level4 = interpolate(config["services"]["level4"], env)
    environment: dict[str, str] = level4["environment"]
    assert set(environment) >= {"LEVEL4_DATABASE_URL", "LEVEL4_API_TOKEN", "LEVEL4_SINKS"}
    url = make_url(environment["LEVEL4_DATABASE_URL"])
    postgres = interpolate(config["services"]["postgres"]["environment"], env)
    assert url.drivername == "postgresql+psycopg" and url.host == "postgres" and url.port == 5432
    assert (url.username, url.password, url.database) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    assert [s.kind for s in parse_sinks(environment["LEVEL4_SINKS"].split(","))] == ["nats"]
    assert environment["LEVEL4_SINKS"] == "nats://nats:4222"  # the compose service, by name
    assert level4["ports"] == ["127.0.0.1:8000:8000"]  # loopback unless LEVEL4_PUBLISH says otherwise

    # The service reads exactly these variables, and listening on 0.0.0.0 is allowed with the token.
    for key in [k for k in os.environ if k.startswith("LEVEL4_")]:
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LEVEL4_HOST", "0.0.0.0")
    settings = Settings()
    assert settings.api_token == "t0ken" and settings.database_url == environment["LEVEL4_DATABASE_URL"]
    assert settings.sinks == ["nats://nats:4222"]
    assert settings.journal.directory is None  # LEVEL4_JOURNAL_DIR left empty: no journal
    settings.check_exposure()

    for missing in ("LEVEL4_API_TOKEN", "POSTGRES_PASSWORD"):
        with pytest.raises(LookupError, match=missing):  # compose refuses to start without it
            interpolate(config["services"], {k: v for k, v in env.items() if k != missing})


def test_the_cluster_profile_runs_three_nodes_that_can_join_and_reach_each_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = compose()
    env = {"LEVEL4_API_TOKEN": "t0ken", "POSTGRES_PASSWORD": "pw"}
    nodes = {n: s for n, s in config["services"].items() if s.get("profiles") == ["cluster"]}
    assert set(nodes) == {"level4-n1", "level4-n2", "level4-n3"}
    names, urls, ports = set(), set(), set()
    for service, raw in nodes.items():
        node = interpolate(raw, env)
        assert node["depends_on"] == config["services"]["level4"]["depends_on"]
        for key in [k for k in os.environ if k.startswith("LEVEL4_")]:
            monkeypatch.delenv(key)
        for key, value in node["environment"].items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("LEVEL4_HOST", "0.0.0.0")
        settings = Settings()
        settings.check_cluster()  # PostgreSQL, a NATS bus, a node name: it would start
        settings.check_exposure()
        assert settings.node_url == f"http://{service}:8000"
        # Another node forwards to this one by its service name: the guard must accept it.
        assert {n for n in nodes} <= set(settings.served_hosts())
        names.add(settings.node)
        urls.add(settings.node_url)
        ports.update(node["ports"])
    assert len(names) == len(urls) == len(ports) == 3


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text().replace("\\\n", " ")


def test_the_image_runs_as_its_own_user_with_a_healthcheck() -> None:
    text = dockerfile()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    assert len(stages) == 2, "a build stage with the compiler, a run stage without"
    run = stages[-1]
    users = re.findall(r"^USER (\S+)", run, re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), "the service does not run as root"
    assert re.search(r"^HEALTHCHECK .*CMD ", run, re.MULTILINE)
    assert re.search(r"^EXPOSE 8000$", run, re.MULTILINE)
    assert "gcc" not in run and "gcc" in stages[0]
    copied = {p for line in re.findall(r"^COPY (?!--from)(.+)$", stages[0], re.MULTILINE) for p in line.split()[:-1]}
    assert copied >= {"pyproject.toml", "setup.py", "README.org", "level4", "translations", "migrations"}
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "level4/compiled-sources.json" in ignored and "**/*.so" in ignored, "no stale local build in the image"


def healthcheck(env: dict[str, str]) -> int:
    """The image's HEALTHCHECK command, run here with this interpreter as `python`."""
    command = re.search(r"^HEALTHCHECK .*?CMD (.+)$", dockerfile(), re.MULTILINE)
    assert command is not None
    script = command.group(1).strip()
    assert script.startswith("python ")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
    argv = ["sh", "-c", f'"$PYTHON" {script.removeprefix("python ")}']
    return subprocess.run(
        argv, env={**clean, **env, "PYTHON": sys.executable}, capture_output=True, timeout=30
    ).returncode


class _Unhealthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.end_headers()
        self.wfile.write(b'{"database": "unavailable"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def unhealthy_port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Unhealthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


@pytest.mark.slow
def test_the_healthcheck_follows_health(tmp_path: Path, unhealthy_port: int) -> None:
    from tests.resilience.test_security import self_signed

    with running_service(f"sqlite:///{tmp_path / 'h.sqlite3'}") as (_service, base):
        assert healthcheck({"LEVEL4_PORT": base.rsplit(":", 1)[1]}) == 0
    assert healthcheck({"LEVEL4_PORT": base.rsplit(":", 1)[1]}) != 0, "nothing listens any more"
    assert healthcheck({"LEVEL4_PORT": str(unhealthy_port)}) != 0, "503: the database is down"

    certfile, keyfile = self_signed(tmp_path)
    tls = {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
    with running_service(f"sqlite:///{tmp_path / 's.sqlite3'}", **tls) as (_service, base):
        port = base.rsplit(":", 1)[1]
        assert healthcheck({"LEVEL4_PORT": port, "LEVEL4_SSL_CERTFILE": str(certfile)}) == 0
        assert healthcheck({"LEVEL4_PORT": port}) != 0, "plain HTTP to an HTTPS port"
