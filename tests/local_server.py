"""A scripted local HTTP(S) server, for what the sandbox cannot do: answer anything."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Responder = Callable[[str, str], tuple[int, dict[str, str], bytes]]


@contextmanager
def local_server(
    respond: Responder, tls: tuple[Path, Path] | None = None, host: str = "127.0.0.1"
) -> Iterator[tuple[str, list[tuple[str, str, dict[str, str]]]]]:
    """A local HTTP(S) server answering ``respond(method, path)``; yields its URL and a log."""
    seen: list[tuple[str, str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def do_PATCH(self) -> None:
            self.answer()

        def do_PUT(self) -> None:
            self.answer()

        def do_DELETE(self) -> None:
            self.answer()

        def answer(self) -> None:
            seen.append((self.command, self.path, dict(self.headers)))
            status, headers, body = respond(self.command, self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    # A short poll: ``shutdown`` waits for the loop to notice, 0.5 s per server by default.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"{scheme}://{host}:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
