"""The web chat: one accessible page and a JSON endpoint for its turns.

    GET  /                 the page (``static/index.html``; script and style from ``/static``)
    POST /chat/start       {"lang"?}        → {"language", "messages"}: privacy notice, language choice
    POST /chat/turn        {"message"}      → {"language", "messages": [{"text", "buttons": [{"title", "payload"}]}]}

The conversation is named by a session cookie: 32 random bytes, ``HttpOnly`` (page scripts cannot
read it), ``SameSite=Strict`` (other sites cannot send it; with the required JSON content type
this stops cross-site requests), ``Secure`` over https, and no ``Max-Age``, so it ends with the
browser session: a customer on a library computer does not leave the chat open for the next one.
The store keeps only a SHA-256 of the cookie, so a leaked database cannot be replayed as cookies.

Replies are sent as plain text and the page puts them in the DOM with ``textContent``, never
``innerHTML``; the Content-Security-Policy allows only this origin's script, so even a bug there
could not run injected code.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.httpjson import read_json_object, string_field
from flows.model import LANGUAGES

if TYPE_CHECKING:
    from bot.turns import TurnResult, Turns

CHANNEL: Final = "web"
COOKIE_NAME: Final = "opastin_session"
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
_SESSION_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{43}")
"""``secrets.token_urlsafe(32)``: 43 characters of the URL-safe alphabet."""
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class WebChat:
    """The page, its assets and the two JSON endpoints, over one ``Turns``."""

    def __init__(self, turns: Turns) -> None:
        self._turns = turns

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/chat/start", self.start, methods=["POST"]),
            Route("/chat/turn", self.turn, methods=["POST"]),
            Mount("/static", app=_SecurityHeaders(StaticFiles(directory=STATIC_DIR)), name="static"),
        ]

    async def page(self, request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=SECURITY_HEADERS)

    async def start(self, request: Request) -> JSONResponse:
        """First visit (or the page's "start over"): privacy notice and language choice."""
        body = await read_json_object(request)
        lang = string_field(body, "lang", required=False)
        if lang is not None and lang not in LANGUAGES:
            raise HTTPException(400, f'the field "lang" must be one of {", ".join(LANGUAGES)}')
        session, new = _session(request)
        result = await self._turns.start(CHANNEL, conversation_id(session), language=lang)
        return _answer(result, session if new else None, request)

    async def turn(self, request: Request) -> JSONResponse:
        """One message typed or one button pressed."""
        body = await read_json_object(request)
        message = string_field(body, "message")
        assert message is not None
        session, new = _session(request)
        result = await self._turns.handle(CHANNEL, conversation_id(session), message)
        return _answer(result, session if new else None, request)


def conversation_id(session: str) -> str:
    """The external id stored for a session: a hash, so the database never holds a live cookie."""
    return hashlib.sha256(session.encode("ascii")).hexdigest()


def _session(request: Request) -> tuple[str, bool]:
    """The session named by the cookie, or a new one (a missing or malformed cookie)."""
    cookie = request.cookies.get(COOKIE_NAME, "")
    if _SESSION_PATTERN.fullmatch(cookie):
        return cookie, False
    return secrets.token_urlsafe(32), True


def _answer(result: TurnResult, new_session: str | None, request: Request) -> JSONResponse:
    response = JSONResponse(_turn_json(result), headers={"Cache-Control": "no-store"})
    if new_session is not None:
        response.set_cookie(
            COOKIE_NAME,
            new_session,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


def _turn_json(result: TurnResult) -> dict[str, Any]:
    return {
        "language": result.language,
        "messages": [
            {"text": m.text, "buttons": [{"title": title, "payload": payload} for title, payload in m.buttons]}
            for m in result.messages
        ],
    }


class _SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` (minus no-store: assets may be cached) to an ASGI app's responses."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in SECURITY_HEADERS.items()
            if name != "Cache-Control"
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self._headers]}
            await send(message)

        await self._app(scope, receive, send_with_headers)
