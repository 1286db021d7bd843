"""moto's S3 server (as ``python -m moto.server`` runs it), counting the requests it serves.

``python benchmarks/_moto_counted.py --port 5000`` serves moto's own WSGI application with
werkzeug's threaded server and moto's request handler, the same as ``moto.server``, behind a
wrapper that counts each request by kind (``GET`` of an object, ``LIST`` = a GET on the
bucket, ``HEAD``, ``PUT``, other). ``GET /__mlsec_counts__`` answers the counts so far as JSON
(and is not counted), so a benchmark can say how many requests each object cost.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

COUNTS_PATH = "/__mlsec_counts__"


def counted(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``app`` behind a request counter (and the counts endpoint)."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path == COUNTS_PATH:
            with lock:
                body = json.dumps(dict(counts)).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        kind = method if method in ("GET", "HEAD", "PUT") else "other"
        if method == "GET" and path.strip("/").count("/") == 0:
            kind = "LIST"  # a GET on the bucket itself: ListObjects(V2)
        with lock:
            counts[kind] += 1
        return app(environ, start_response)

    return wrapper


def main() -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = counted(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
