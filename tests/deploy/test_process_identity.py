"""Two replicas of one service share their PRODML_HOST, and in containers each runs as
pid 1: they are still two processes to the store, so only one of them holds a lease."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from prodml.client import Client
from prodml.deploy.heartbeats import process_id
from prodml.domain.hosts import CONTROLLER

AS_PID_ONE = (
    "import os; os.getpid = lambda: 1\n"
    "from prodml.deploy.heartbeats import process_id\n"
    "print(process_id())\n"
)


def _replica() -> str:
    environment = {**os.environ, "PRODML_HOST": "gateway"}
    done = subprocess.run(
        [sys.executable, "-c", AS_PID_ONE], env=environment, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_two_replicas_named_alike_as_pid_one_are_two_holders(client: Client) -> None:
    first, second = _replica(), _replica()

    assert re.fullmatch(r"gateway/1-[0-9a-f]{8}", first), first
    assert first != second
    store = client.metadata
    assert store.take_lease(CONTROLLER, first, 30.0) == 1
    assert store.take_lease(CONTROLLER, second, 30.0) is None  # the other one holds it


def test_a_process_keeps_its_name_and_a_forked_child_gets_its_own() -> None:
    mine = process_id()
    assert process_id() == mine
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(writer, process_id().encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    theirs = os.read(reader, 200).decode()
    os.close(reader)
    assert theirs and theirs != mine
    assert theirs.split("/")[-1].split("-")[0] == str(child)
