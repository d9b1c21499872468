"""A fake Telegram Bot API: a Starlette app that records every call and answers like Telegram.

The bot under test talks to it through a real PTB ``Application`` whose ``base_url`` points here
(``http://127.0.0.1:<port>/bot``), so the whole request path — PTB's request encoding, the rate
limiter, error mapping — runs for real. Only the Telegram server is replaced, at the process
boundary, as PTB's own tests do with ``OfflineRequest``.

What it does:

* ``getMe``, ``sendMessage``, ``editMessageReplyMarkup``, ``answerCallbackQuery``, ``setWebhook``,
  ``deleteWebhook``, ``getWebhookInfo``, ``getUpdates`` (long polling over ``push_update``);
  any other method (``setMyCommands`` among them) answers ``{"ok": true, "result": true}``.
* Every call is recorded as a ``Call`` (method and decoded parameters), including failed ones.
* ``fail(method, status=429, retry_after=…)`` makes the next calls of a method fail;
  ``block(chat_id)`` makes every ``sendMessage`` to that chat answer 403, as for a user who
  blocked the bot. A wrong token answers 401, as Telegram does.

PTB sends parameters form-encoded with every non-string value JSON-encoded
(``RequestData.json_parameters``); the fake decodes them back, so tests compare plain values.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN: Final = "123456789:AAHfakeFAKEfakeFAKEfakeFAKEfake12345"
"""A token of the right shape; the fake accepts this one only."""
BOT_ID: Final = 123456789
BOT_USER: Final[Mapping[str, Any]] = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Opastin",
    "username": "opastin_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
_STRING_PARAMETERS: Final = frozenset(
    {"text", "url", "secret_token", "callback_query_id", "parse_mode", "caption", "inline_message_id", "language_code"}
)
"""Parameters PTB sends as raw strings; every other value is JSON and is decoded."""


@dataclass(frozen=True, slots=True)
class Call:
    """One request the bot made."""

    method: str
    params: Mapping[str, Any]
    status: int
    """The HTTP status the fake answered with."""


@dataclass(slots=True)
class _Failure:
    status: int
    description: str
    retry_after: int | None
    times: int


@dataclass(slots=True)
class FakeBotAPI:
    """The fake server's state; ``app`` is the ASGI app to serve on 127.0.0.1."""

    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _next_update_id: int = 1
    _next_message_id: int = 1000
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _blocked: set[int] = field(default_factory=set)
    webhook: dict[str, Any] = field(default_factory=dict)

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])

    # ---------------------------------------------------------------- test controls

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue an update for ``getUpdates``; an ``update_id`` is assigned when missing.

        Safe to call from the test's thread: a waiting ``getUpdates`` looks again every 10 ms.
        """
        data = dict(update)
        data.setdefault("update_id", self._next_update_id)
        self._next_update_id = int(data["update_id"]) + 1
        self._updates.append(data)
        return int(data["update_id"])

    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error instead of the result."""
        text = description or (f"Too Many Requests: retry after {retry_after}" if status == 429 else f"Error {status}")
        self._failures.setdefault(method, []).append(
            _Failure(status, text, retry_after if status == 429 else None, times)
        )

    def block(self, chat_id: int) -> None:
        """Behave as if the user of ``chat_id`` blocked the bot: ``sendMessage`` answers 403."""
        self._blocked.add(chat_id)

    def calls_of(self, method: str) -> list[Call]:
        """Successful calls of ``method``, oldest first."""
        return [c for c in self.calls if c.method == method and c.status == 200]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        """The text of every delivered ``sendMessage``, oldest first."""
        return [
            str(c.params["text"])
            for c in self.calls_of("sendMessage")
            if chat_id is None or c.params.get("chat_id") == chat_id
        ]

    # ---------------------------------------------------------------- the endpoint

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        params = await _read_params(request)
        if request.path_params["token"] != self.token:
            return self._answer(method, params, _error(401, "Unauthorized"))
        failure = self._take_failure(method)
        if failure is not None:
            return self._answer(method, params, failure)
        if method == "sendMessage" and params.get("chat_id") in self._blocked:
            return self._answer(method, params, _error(403, "Forbidden: bot was blocked by the user"))
        if method == "getUpdates":
            result: Any = await self._get_updates(request, params)
        else:
            result = self._result(method, params)
        return self._answer(method, params, JSONResponse({"ok": True, "result": result}))

    def _answer(self, method: str, params: Mapping[str, Any], response: JSONResponse) -> JSONResponse:
        self.calls.append(Call(method, params, response.status_code))
        return response

    def _take_failure(self, method: str) -> JSONResponse | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return _error(failure.status, failure.description, failure.retry_after)

    async def _get_updates(self, request: Request, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            # Telegram forgets every update below the offset: that is how the bot confirms them.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if self._updates or time.monotonic() >= deadline or await request.is_disconnected():
                return self._updates[:limit]
            await asyncio.sleep(0.01)

    def _result(self, method: str, params: Mapping[str, Any]) -> Any:
        if method == "getMe":
            return dict(BOT_USER)
        if method == "sendMessage":
            return self._message(params)
        if method == "editMessageReplyMarkup":
            return self._message(params, message_id=int(params.get("message_id") or 0), text="")
        if method == "setWebhook":
            self.webhook = dict(params)
            return True
        if method == "deleteWebhook":
            self.webhook = {}
            return True
        if method == "getWebhookInfo":
            return {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}
        return True

    def _message(
        self, params: Mapping[str, Any], *, message_id: int | None = None, text: str | None = None
    ) -> dict[str, Any]:
        if message_id is None:
            message_id = self._next_message_id
            self._next_message_id += 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": params.get("chat_id"), "type": "private"},
            "from": dict(BOT_USER),
            "text": params.get("text", "") if text is None else text,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message


def _error(status: int, description: str, retry_after: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return JSONResponse(body, status_code=status)


async def _read_params(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    # PTB sends url-encoded forms unless it uploads a file, which the bot never does; parsing
    # them by hand spares the fake a python-multipart dependency.
    body = (await request.body()).decode("utf-8")
    return {
        key: value if key in _STRING_PARAMETERS else _json_or_text(value)
        for key, value in parse_qsl(body, keep_blank_values=True)
    }


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


# -------------------------------------------------------------------- update factories
# Real Bot API shapes (https://core.telegram.org/bots/api#update), as PTB's
# tests/auxil/build_messages.py builds them, so ``Update.de_json`` sees what Telegram sends.

_update_ids = itertools.count(1)


def user(user_id: int, *, language_code: str = "fi") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Asiakas", "language_code": language_code}


def message_update(
    chat_id: int, text: str | None = None, *, message_id: int = 1, update_id: int | None = None, **extra: Any
) -> dict[str, Any]:
    """A private-chat ``message`` update; ``extra`` adds fields such as ``sticker`` or ``photo``."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Asiakas"},
        "from": user(chat_id),
        **extra,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": update_id if update_id is not None else next(_update_ids), "message": message}


def callback_update(
    chat_id: int, data: str, *, message_id: int = 1000, query_id: str = "q1", update_id: int | None = None
) -> dict[str, Any]:
    """An inline-keyboard press on the bot's message ``message_id``."""
    return {
        "update_id": update_id if update_id is not None else next(_update_ids),
        "callback_query": {
            "id": query_id,
            "from": user(chat_id),
            "chat_instance": f"ci{chat_id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Asiakas"},
                "from": dict(BOT_USER),
                "text": "…",
            },
        },
    }


STICKER: Final[Mapping[str, Any]] = {
    "file_id": "CAACAgQAAxkBAAIB",
    "file_unique_id": "AgADsticker",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}
PHOTO: Final = [{"file_id": "AgACAgQAAxkBAAIC", "file_unique_id": "AQADphoto", "width": 90, "height": 90}]
VOICE: Final[Mapping[str, Any]] = {"file_id": "AwACAgQAAxkBAAID", "file_unique_id": "AgADvoice", "duration": 3}
DOCUMENT: Final[Mapping[str, Any]] = {
    "file_id": "BQACAgQAAxkBAAIE",
    "file_unique_id": "AgADdoc",
    "file_name": "todistus.pdf",
    "mime_type": "application/pdf",
}
LOCATION: Final[Mapping[str, Any]] = {"latitude": 60.1699, "longitude": 24.9384}
