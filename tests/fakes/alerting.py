"""Local stand-ins for where alerts go: Telegram's Bot API, a Slack incoming webhook, an SMTP server.

The Telegram fake answers sendMessage the way the Bot API documents it ({"ok": true, "result":
Message}; 401 {"ok": false, "description": "Unauthorized"} for an unknown token). The Slack fake
answers 200 "ok" on its webhook path. The SMTP server is aiosmtpd, a real SMTP implementation,
on a fixed port so it can be stopped and started again ("the channel is down, then back").
"""

from __future__ import annotations

import json
import socket
import time
from email import message_from_bytes, policy
from email.message import Message

from aiosmtpd.controller import Controller
from werkzeug.wrappers import Request, Response

from tests.fakes.server import FakeServer


class FakeTelegram(FakeServer):
    """The Bot API's sendMessage for one bot token."""

    def __init__(self, token: str = "123456789:AAFakeTokenForKontorTests_abcdef") -> None:
        super().__init__()
        self.token = token
        self.messages: list[dict] = []

    def handle(self, request: Request) -> Response:
        if request.path != f"/bot{self.token}/sendMessage":
            return Response(json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"}), status=401,
                            content_type="application/json")
        body = request.get_json(silent=True) or request.form.to_dict()
        if not body.get("chat_id") or not body.get("text"):
            return Response(json.dumps({"ok": False, "error_code": 400,
                                        "description": "Bad Request: message text is empty"}), status=400,
                            content_type="application/json")
        self.messages.append(body)
        result = {"message_id": len(self.messages), "date": int(time.time()),
                  "chat": {"id": body["chat_id"], "type": "group"}, "text": body["text"]}
        return Response(json.dumps({"ok": True, "result": result}), content_type="application/json")

    @property
    def texts(self) -> list[str]:
        with self.lock:
            return [m["text"] for m in self.messages]


class FakeSlack(FakeServer):
    """A Slack incoming webhook at /services/T000/B000/XXXX."""

    PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict] = []

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != self.PATH:
            return Response("no_service", status=404, content_type="text/plain")
        body = request.get_json(silent=True)
        if not body or not body.get("text"):
            return Response("no_text", status=400, content_type="text/plain")
        self.messages.append(body)
        return Response("ok", content_type="text/plain")

    @property
    def url(self) -> str:
        return self.base_url + self.PATH

    @property
    def texts(self) -> list[str]:
        with self.lock:
            return [m["text"] for m in self.messages]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeSmtp:
    """An aiosmtpd server on 127.0.0.1:port that keeps every message; stop() and start() keep the port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = _Inbox()
        self._controller: Controller | None = None

    def start(self) -> "FakeSmtp":
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.inbox.messages]
