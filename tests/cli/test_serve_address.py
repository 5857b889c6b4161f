"""prodml serve refuses an address it cannot listen on before saying it serves there:
a port another process listens on, an address not of this machine, a port past 65535."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cli_process import run_prodml


def test_a_port_in_use_is_refused_naming_it_and_the_next_step(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_prodml(tmp_path / ".prodml", "serve", "m", "--port", str(port))

    assert result.returncode == 1
    assert "Serving" not in result.stdout
    message = " ".join(result.stderr.split())
    assert message == (
        f"Error: Cannot listen on 127.0.0.1:{port}: Address already in use. Give another "
        "address (--port N, --host ADDRESS), or stop what listens there."
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [(["--port", "70000"], "port must be 0-65535"), (["--host", "192.0.2.1"], "Cannot assign")],
)
def test_an_address_that_cannot_be_had_is_refused(
    tmp_path: Path, args: list[str], reason: str
) -> None:
    result = run_prodml(tmp_path / ".prodml", "serve", "m", *args)

    assert result.returncode == 1 and "Serving" not in result.stdout
    assert reason in " ".join(result.stderr.split())
