"""How a ``prodml`` process leaves once its command is done: in Python's own order
(pool workers told to stop, other threads awaited, exit handlers run, output flushed)
and with the command's exit code, but without the native libraries' teardown."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _leaving(body: str) -> subprocess.CompletedProcess[str]:
    code = "from prodml.cli.main import _leave\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_idle_thread_pool_left_open_does_not_keep_the_process_alive() -> None:
    # A library (an HTTP client, a tracking client) may keep a pool whose idle workers
    # wait for work until they are told the interpreter is leaving.
    result = _leaving(
        """
        from concurrent.futures import ThreadPoolExecutor
        pool = ThreadPoolExecutor(2)
        print(pool.submit(lambda: 41 + 1).result(), flush=True)
        _leave(0)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["42"]


def test_work_in_other_threads_and_exit_handlers_finish_before_the_process_ends() -> None:
    result = _leaving(
        """
        import atexit, sys, threading, time
        atexit.register(lambda: print("handler ran"))
        def slow() -> None:
            time.sleep(0.3)
            print("thread finished")
        threading.Thread(target=slow).start()
        sys.stdout.write("unflushed answer\\n")
        _leave(3)
        """
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == ["unflushed answer", "thread finished", "handler ran"]


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (2, 2)])
def test_the_exit_code_is_the_commands(code: int | None, status: int) -> None:
    assert _leaving(f"_leave({code!r})").returncode == status


def test_a_message_as_exit_code_is_printed_and_the_process_fails() -> None:
    result = _leaving("_leave('store is locked')")
    assert result.returncode == 1
    assert result.stderr.strip() == "store is locked"
