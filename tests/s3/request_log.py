"""moto's S3 server on loopback, with a log of every request it serves.

The server is moto's own WSGI application (what ``ThreadedMotoServer`` runs) behind a
wrapper that notes method, path and query of each request before moto handles it, so a
test counts what the server received over real HTTP from real botocore: the client is
never patched.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.s3.faulty_proxy import serving


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    """Percent-decoded, e.g. ``/bucket/zoo/m1.pkl``."""
    query: dict[str, list[str]]

    @property
    def is_listing(self) -> bool:
        """A ListObjects(V2) call: a GET on the bucket itself."""
        return self.method == "GET" and self.path.strip("/").count("/") == 0


@dataclass
class RequestLog:
    endpoint: str
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def taken(self) -> list[Request]:
        """The requests so far, and a fresh log."""
        with self.lock:
            out, self.requests[:] = list(self.requests), []
        return out


@contextmanager
def logged_moto_server() -> Iterator[RequestLog]:
    """A moto S3 server on 127.0.0.1 (a free port); yields its :class:`RequestLog`."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    log: dict[str, RequestLog] = {}

    def logged(environ: dict[str, Any], start_response: Any) -> Any:
        entry = Request(
            environ["REQUEST_METHOD"],
            unquote(environ.get("PATH_INFO", "")),
            parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
        )
        with log["log"].lock:
            log["log"].requests.append(entry)
        return app(environ, start_response)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = make_server("127.0.0.1", 0, logged, threaded=True, request_handler=MotoRequestHandler)
    log["log"] = RequestLog(endpoint=f"http://127.0.0.1:{server.server_address[1]}")
    with serving(server):
        yield log["log"]
