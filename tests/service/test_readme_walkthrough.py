"""README.org's "A first book in one minute", run with bash as a user pastes it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.service.test_end_to_end import free_port

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.org"


def walkthrough() -> str:
    section = README.read_text().split("\n* A first book in one minute\n", 1)[1].split("\n* ", 1)[0]
    found = re.search(r"#\+begin_src sh\n(.*?)#\+end_src", section, re.S)
    assert found, "no src block in the section"
    return found.group(1)


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_walkthrough_pasted_as_it_stands_reads_a_synchronised_book_equal_to_the_reference(tmp_path: Path) -> None:
    # The interpreter under test stands in for the install the README makes.
    block = walkthrough()
    assert ":8000" not in block  # the first command's service may be running there
    script = block.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    for port in ("8001", "9001"):
        if port_taken(int(port)):  # a shared machine: only then is the block changed
            script = script.replace(f":{port}", f":{free_port()}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
    output = tmp_path / "output.txt"
    with output.open("wb") as out:
        # Its own session: the block's background jobs are then one process group to stop.
        shell = subprocess.Popen(
            ["bash", "-c", script], stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=env, start_new_session=True
        )
        try:
            shell.wait(timeout=90)
        finally:
            stop_group(shell.pid)
    text = output.read_text()
    assert shell.returncode == 0, text
    assert "Traceback" not in text and "no snapshot" not in text, text
    answers = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    books = [a for a in answers if "reason" in a and "bids" in a]
    references = [a for a in answers if "update_id" in a]
    assert books and references, text
    book, reference = books[-1], references[-1]
    assert book["synchronised"] is True, book
    assert len(book["bids"]) == 5 and len(book["asks"]) == 5, book
    assert book["bids"] == reference["bids"] and book["asks"] == reference["asks"], (book, reference)
    assert book["market"] == reference["market"] == "COINBASE.SPOT:BTC-USD"
    assert (tmp_path / "first-book.sqlite3").exists()  # its own catalogue, not the first command's


def stop_group(pgid: int) -> None:
    """Stop what the block left running (the simulator and the service), then make sure."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)
