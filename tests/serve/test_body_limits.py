"""Bodies past the limit are refused before they are buffered, on a real uvicorn
server over a real socket: the declared length first, then the stream with a cap."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
from serving_helpers import Constant, crown, gateway, log_versions, served

from prodml.client import Client

CHUNK = b"[" + b"0," * 32_767 + b"0]"  # 64 KiB of a JSON list, sent again and again


@pytest.fixture
def server(sqlite_client: Client) -> Iterator[int]:
    crown(sqlite_client, log_versions(sqlite_client, Constant(1))[0])
    with served(gateway(sqlite_client)) as port:
        yield port


def _send_chunked(port: int, path: str, total: int) -> tuple[int, bytes]:
    """Send ``total`` bytes as a chunked body while watching for an early answer; the
    bytes sent before the answer came, and the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        sent = 0
        conn.setblocking(False)
        answer = b""
        while sent < total:
            with contextlib.suppress(BlockingIOError):
                answer += conn.recv(65_536)
            if answer:
                break
            try:
                conn.sendall(f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n")
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.01)
                continue
            sent += len(CHUNK)
        conn.setblocking(True)
        conn.settimeout(30)
        if sent >= total:
            conn.sendall(b"0\r\n\r\n")
        while b"\r\n\r\n" not in answer:
            more = conn.recv(65_536)
            if not more:
                break
            answer += more
    return sent, answer


@pytest.mark.parametrize("path", ["/v1/models/m/predict", "/v2/models/m/infer"])
def test_a_chunked_body_past_the_limit_is_refused_before_it_is_read(server: int, path: str) -> None:
    sent, answer = _send_chunked(server, path, 64 << 20)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 16 << 20  # the gateway answered long before the 64 MiB were sent


def test_a_declared_length_past_the_limit_is_refused_before_any_byte_is_read(
    server: int,
) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/models/m/rollback HTTP/1.1\r\nHost: gateway\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
        )
        answer = conn.recv(65_536)  # no body was sent: only the header can have refused it
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"field":"body"' in answer
