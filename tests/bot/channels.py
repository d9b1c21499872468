"""Building blocks shared by the channel tests: the real turn processor and the app, in process.

Everything is real: the content from ``content/``, the trained NLU, a SQLite file, the Starlette
app of ``opastin serve`` with its lifespan. Only the clock is fixed, through the processor's
``clock`` parameter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from bot.settings import Settings
from bot.store import Store
from bot.turns import TurnProcessor
from flows.content import Content
from flows.render import Renderer


def make_processor(
    settings: Settings, content: Content, renderer: Renderer, nlu_model: Any, now: datetime | None = None
) -> TurnProcessor:
    """A processor on a fresh SQLite file under the test's data dir."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    return TurnProcessor(
        content=content,
        store=Store.open(settings.database_url),
        interpreter=nlu_model,
        renderer=renderer,
        timezone=settings.timezone,
        clock=(lambda: now) if now is not None else None,
        max_chars=settings.max_message_chars,
    )


@asynccontextmanager
async def in_process(app: Starlette, *, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and an HTTP client that calls it without a socket."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client,
    ):
        yield client


def json_error(response: httpx.Response) -> dict[str, Any]:
    """The body of an error answer, after checking that it is our JSON error shape."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error", "message"}, body
    assert isinstance(body["message"], str) and body["message"]
    return dict(body)


BAD_BODIES: list[tuple[str, bytes, str | None, int]] = [
    # (what is wrong, body, Content-Type, expected status); the body would otherwise be valid
    ("empty body", b"", "application/json", 400),
    ("only whitespace", b" \r\n ", "application/json", 400),
    ("invalid JSON", b'{"sender": "s", "message": "hei"', "application/json", 400),
    ("JSON array", b'["hei"]', "application/json", 400),
    ("JSON string", b'"hei"', "application/json", 400),
    ("JSON null", b"null", "application/json", 400),
    ("nested 30000 deep", b"[" * 30000 + b"]" * 30000, "application/json", 400),
    ("wrong content type", b'{"sender": "s", "message": "hei"}', "text/plain", 415),
    ("form encoded", b"sender=s&message=hei", "application/x-www-form-urlencoded", 415),
    ("no content type", b'{"sender": "s", "message": "hei"}', None, 415),
    ("latin-1 charset", b'{"sender": "s", "message": "hei"}', "application/json; charset=latin-1", 415),
    ("invalid UTF-8", b'{"sender": "s", "message": "h\xe4\xff"}', "application/json", 400),
    ("lone surrogate", b'{"sender": "s", "message": "\\ud800"}', "application/json", 400),
    ("1 MB message", b'{"sender": "s", "message": "' + b"a" * 1_000_000 + b'"}', "application/json", 413),
]
"""Bodies every JSON endpoint must refuse with a 4xx JSON error, before any turn runs."""
