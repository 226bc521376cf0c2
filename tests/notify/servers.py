"""Local test servers: an SMTP server (aiosmtpd) and a provider webhook that checks signatures."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from portal.notify.channels import sign


@dataclass
class Mailbox:
    messages: list[dict[str, Any]] = field(default_factory=list)
    refuse: str | None = None  # an SMTP reply such as "550 mailbox unavailable"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return self.refuse
        self.messages.append(
            {"to": list(envelope.rcpt_tos), "data": envelope.content.decode("utf-8", "replace")}
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(refuse: str | None = None) -> Iterator[tuple[str, Mailbox]]:
    mailbox = Mailbox(refuse=refuse)
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", mailbox
    finally:
        controller.stop()


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers (an SMTP server that hangs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"smtp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


@dataclass
class Provider:
    secret: str
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    status: int = 200


@contextmanager
def provider_server(secret: str, status: int = 200) -> Iterator[tuple[str, Provider]]:
    """The SMS/WeChat provider: refuses a request whose signature does not check (401)."""
    provider = Provider(secret=secret, status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            timestamp = self.headers.get("X-Notify-Timestamp", "")
            expected = sign(provider.secret, timestamp, body)
            if self.headers.get("X-Notify-Signature") != expected:
                provider.refused += 1
                self.send_response(401)
                self.end_headers()
                return
            data = json.loads(body)
            provider.received.append({"path": self.path, **data})
            answer = json.dumps({"provider_id": f"PRV-{data['message_id']}"}).encode()
            self.send_response(provider.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
