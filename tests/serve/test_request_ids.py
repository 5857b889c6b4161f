"""Request ids the gateway makes for requests that came without one: 32 hex digits,
never repeated, in a forked worker either (a worker forked from the gateway's first
process must not hand out the ids its parent hands out next)."""

from __future__ import annotations

import os
import re

from prodml.serve.values import new_request_id, request_id


def test_made_ids_are_32_hex_digits_and_distinct() -> None:
    made = [new_request_id() for _ in range(10_000)]

    assert all(re.fullmatch(r"[0-9a-f]{32}", made_id) for made_id in made)
    assert len(set(made)) == len(made)
    assert request_id(made[0]) == made[0]  # a made id is one a client may send back


def test_a_forked_process_makes_other_ids_than_its_parent() -> None:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next ids, to the parent, then out
        os.write(write, " ".join(new_request_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    parents = {new_request_id() for _ in range(100)}
    with os.fdopen(read, "rb") as pipe:
        childs = set(pipe.read().decode().split())
    os.waitpid(child, 0)

    assert len(childs) == 100
    assert not parents & childs
