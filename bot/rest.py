"""The REST channel, shaped like Rasa's, so Rasa web widgets and test clients work unchanged.

    POST /webhooks/rest/webhook  {"sender": "abc", "message": "hei"}
         → [{"recipient_id": "abc", "text": "…", "buttons": [{"title": "…", "payload": "/c:…"}]}]
    POST /model/parse            {"text": "haluan ilmoittautua"}   → Rasa's parse JSON
    GET  /webhooks/rest/         {"status": "ok"}                   (Rasa's health check)

As in Rasa's ``CollectingOutputChannel``, a message carries ``buttons`` only when it has some. A
button's ``payload`` is sent back as the next ``message``. Each ``sender`` is one conversation,
kept as the customer ``("rest", sender)``.

Bad bodies get a 4xx JSON error (``bot.httpjson``) and never reach a turn. When a bearer token is
configured (``OPASTIN_REST_TOKEN``) both endpoints require ``Authorization: Bearer <token>``;
without one the channel is open, which is how Rasa's REST channel works and why ``opastin
serve`` listens on 127.0.0.1 by default. Unlike Rasa, a failed turn is a 500, never a 200.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.httpjson import read_json_object, string_field
from flows.model import LANGUAGES
from nlu.interpreter import Interpreter, to_rasa_json

if TYPE_CHECKING:
    from bot.turns import TurnResult, Turns

logger = logging.getLogger(__name__)

CHANNEL: Final = "rest"
MAX_SENDER_CHARS: Final = 128


class RestChannel:
    """The two Rasa endpoints over one ``Turns`` and one NLU interpreter."""

    def __init__(
        self,
        turns: Turns,
        interpreter: Interpreter,
        *,
        clock: Callable[[], datetime],
        token: str | None = None,
        max_chars: int = 4000,
    ) -> None:
        self._turns = turns
        self._interpreter = interpreter
        self._clock = clock
        self._token = token
        self._max_chars = max_chars

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/webhooks/rest/", self.health, methods=["GET"]),
            Route("/webhooks/rest/webhook", self.webhook, methods=["POST"]),
            Route("/model/parse", self.parse, methods=["POST"]),
        ]

    async def health(self, request: Request) -> JSONResponse:
        """Rasa's channel health check."""
        return JSONResponse({"status": "ok"})

    async def webhook(self, request: Request) -> JSONResponse:
        """One customer message in, the assistant's messages out."""
        self._authorize(request)
        body = await read_json_object(request)
        sender = _sender(body)
        # Over-long messages are answered by the turn (common.too_long), as in every channel; the
        # body limit already keeps them small enough to read.
        message = string_field(body, "message")
        assert message is not None
        result = await self._turns.handle(CHANNEL, sender, message)
        return JSONResponse(rasa_messages(sender, result))

    async def parse(self, request: Request) -> JSONResponse:
        """The NLU's reading of ``text``, in Rasa's shape; nothing is stored."""
        self._authorize(request)
        body = await read_json_object(request)
        text = string_field(body, "text", max_chars=self._max_chars)
        assert text is not None
        lang = string_field(body, "lang", required=False)
        if lang is not None and lang not in LANGUAGES:
            raise HTTPException(400, f'the field "lang" must be one of {", ".join(LANGUAGES)}')
        # The NLU is plain CPU work; a thread keeps a slow parse from stalling other requests.
        parsed = await asyncio.to_thread(self._interpreter.parse, text, lang, self._clock())
        return JSONResponse(to_rasa_json(parsed))

    def _authorize(self, request: Request) -> None:
        if self._token is None:
            return
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credentials.strip().encode("utf-8", "replace"), self._token.encode("utf-8")
        ):
            raise HTTPException(
                401, "send the REST token as 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"}
            )


def rasa_messages(recipient_id: str, result: TurnResult) -> list[dict[str, Any]]:
    """A turn's messages as Rasa's REST channel lists them."""
    messages: list[dict[str, Any]] = []
    for message in result.messages:
        item: dict[str, Any] = {"recipient_id": recipient_id, "text": message.text}
        if message.buttons:
            item["buttons"] = [{"title": title, "payload": payload} for title, payload in message.buttons]
        messages.append(item)
    return messages


def _sender(body: dict[str, Any]) -> str:
    sender = body.get("sender")
    if isinstance(sender, int) and not isinstance(sender, bool):
        sender = str(sender)  # some Rasa clients send numeric ids
    if not isinstance(sender, str):
        raise HTTPException(400, 'the field "sender" is required: a string that names the conversation')
    if not sender.strip() or not sender.isprintable() or len(sender) > MAX_SENDER_CHARS:
        raise HTTPException(400, f'the field "sender" must be printable text of 1 to {MAX_SENDER_CHARS} characters')
    return sender
