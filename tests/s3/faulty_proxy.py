"""A tiny HTTP proxy in front of the moto S3 server that misbehaves on request.

Real S3-compatible servers and networks do things moto never does: ignore ``Range`` (some
gateways and caches), cut a body short, or commit a PUT and then lose its answer. The proxy
forwards every request to moto on loopback and applies the faults a test queued, each once
(or always), so the client code under test meets them through real HTTP and real botocore.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

Match = Callable[[str, str, dict[str, str]], bool]
"""``match(method, path, headers)``: does a fault apply to this request."""


@dataclass
class Fault:
    match: Match
    action: str
    """``ignore-range`` (forward without Range), ``truncate`` (send half the body, then close),
    ``lose-answer`` (forward, then answer 500)."""
    times: int = 1
    """How many requests it applies to (-1: every one)."""
    hits: int = 0


@dataclass
class FaultyProxy:
    endpoint: str
    faults: list[Fault] = field(default_factory=list)

    def add(self, action: str, match: Match, *, times: int = 1) -> Fault:
        fault = Fault(match=match, action=action, times=times)
        self.faults.append(fault)
        return fault

    def _take(self, method: str, path: str, headers: dict[str, str]) -> str | None:
        for fault in self.faults:
            if fault.times != 0 and fault.match(method, path, headers):
                fault.hits += 1
                if fault.times > 0:
                    fault.times -= 1
                return fault.action
        return None


@contextmanager
def faulty_proxy(upstream: str) -> Iterator[FaultyProxy]:
    """A proxy on 127.0.0.1 in front of ``upstream`` (the moto endpoint); yields it."""
    target = urlparse(upstream)
    state: dict[str, FaultyProxy] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet test output
            return

        def _forward(self) -> None:
            proxy = state["proxy"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items()}
            action = proxy._take(self.command, self.path, headers)
            if action == "ignore-range":
                headers = {k: v for k, v in headers.items() if k.lower() != "range"}
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if action == "lose-answer":
                payload = (
                    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>InternalError</Code>"
                    b"<Message>We encountered an internal error.</Message></Error>"
                )
                self.send_response(500)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                conn.close()
                return
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            length = response.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            if action == "truncate":
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                conn.close()
                return
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["proxy"] = FaultyProxy(endpoint=f"http://127.0.0.1:{server.server_address[1]}")
    with serving(server):
        yield state["proxy"]


@contextmanager
def serving(server: Any) -> Iterator[None]:
    """``server.serve_forever()`` in a thread until the block ends, then shut down."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
