"""bot/web.py: the page, its assets, the session cookie and the JSON turn endpoint, in process.

What a browser does with the page (keyboard use, live region, ``lang``) is in ``test_browser.py``.
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest

from bot.app import create_app
from bot.settings import Settings
from bot.turns import TurnProcessor, Turns
from bot.web import COOKIE_NAME, STATIC_DIR, conversation_id
from flows.render import Renderer
from tests.bot.channels import BAD_BODIES, in_process, json_error

pytestmark = pytest.mark.anyio


def set_cookie(response: httpx.Response) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


# --------------------------------------------------------------------------------------------------
# The page and its assets
# --------------------------------------------------------------------------------------------------


async def test_page_is_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert '<html lang="fi">' in html
    assert '<label for="message"' in html
    assert 'role="log"' in html and 'aria-live="polite"' in html


@pytest.mark.parametrize("asset", ["app.js", "style.css"])
async def test_assets_are_local_and_nosniff(client: httpx.AsyncClient, asset: str) -> None:
    response = await client.get(f"/static/{asset}")

    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"


def test_no_asset_loads_anything_from_another_origin() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path.name
        assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", text), path.name


def test_the_script_never_writes_html() -> None:
    script = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script.replace("never innerHTML", ""), sink


# --------------------------------------------------------------------------------------------------
# Session cookie
# --------------------------------------------------------------------------------------------------


async def test_start_opens_a_session_with_a_safe_cookie(client: httpx.AsyncClient, renderer: Renderer) -> None:
    response = await client.post("/chat/start", json={"lang": "en"})

    assert response.status_code == 200
    morsel = set_cookie(response)[COOKIE_NAME]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", morsel.value)
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/"
    assert not morsel["max-age"] and not morsel["expires"], "a browser-session cookie"
    assert not morsel["secure"], "plain http on localhost"
    answer = response.json()
    assert answer["language"] == "en"
    assert answer["messages"][0]["text"] == renderer.text("common.privacy_notice", "en", {})
    assert [b["payload"] for b in answer["messages"][-1]["buttons"]] == ["/lang fi", "/lang sv", "/lang en"]


async def test_cookie_is_secure_over_https(settings: Settings, processor: TurnProcessor) -> None:
    async with in_process(create_app(settings, Turns(processor)), base_url="https://chat.example.fi") as client:
        response = await client.post("/chat/start", json={})
    assert set_cookie(response)[COOKIE_NAME]["secure"] is True


async def test_the_cookie_carries_the_conversation(client: httpx.AsyncClient, processor: TurnProcessor) -> None:
    started = await client.post("/chat/start", json={})
    session = set_cookie(started)[COOKIE_NAME].value

    answer = (await client.post("/chat/turn", json={"message": "/lang sv"})).json()

    assert answer["language"] == "sv"
    stored = processor.conversation("web", conversation_id(session))
    assert stored.state.language == "sv" and stored.state.version == 2
    assert processor.conversation("web", session).user is None, "the store keeps a hash, never the cookie"


async def test_two_browsers_are_two_conversations(settings: Settings, processor: TurnProcessor) -> None:
    app = create_app(settings, Turns(processor))
    async with in_process(app) as first, in_process(app) as second:
        await first.post("/chat/turn", json={"message": "/lang en"})
        await second.post("/chat/turn", json={"message": "/lang sv"})
        assert (await first.post("/chat/turn", json={"message": "/menu"})).json()["language"] == "en"
        assert (await second.post("/chat/turn", json={"message": "/menu"})).json()["language"] == "sv"


@pytest.mark.parametrize("cookie", ["", "short", "x" * 42 + "!", "." * 43, "a" * 44])
async def test_a_malformed_cookie_gets_a_fresh_session(client: httpx.AsyncClient, cookie: str) -> None:
    client.cookies.set(COOKIE_NAME, cookie)
    response = await client.post("/chat/turn", json={"message": "/menu"})

    assert response.status_code == 200
    assert set_cookie(response)[COOKIE_NAME].value != cookie


async def test_a_turn_without_a_session_starts_one(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/turn", json={"message": "/menu"})

    assert response.status_code == 200
    assert COOKIE_NAME in set_cookie(response)
    assert response.headers["cache-control"] == "no-store"


# --------------------------------------------------------------------------------------------------
# Turns
# --------------------------------------------------------------------------------------------------


async def test_turn_answer_shape(client: httpx.AsyncClient, renderer: Renderer) -> None:
    answer = (await client.post("/chat/turn", json={"message": "/menu"})).json()

    assert set(answer) == {"language", "messages"}
    assert answer["messages"][0]["text"] == renderer.text("common.menu", "fi", {})
    for message in answer["messages"]:
        assert set(message) == {"text", "buttons"}
        for button in message["buttons"]:
            assert set(button) == {"title", "payload"}


async def test_user_text_comes_back_as_plain_text(client: httpx.AsyncClient) -> None:
    """The web channel asks for plain text: the page escapes by using textContent, so HTML
    escaping here would show up as literal ``&lt;`` on screen."""
    answer = (await client.post("/chat/turn", json={"message": "<b>hei</b> & moi"})).json()
    assert all("&lt;" not in m["text"] and "&amp;" not in m["text"] for m in answer["messages"])


@pytest.mark.parametrize(("case", "body", "content_type", "status"), BAD_BODIES, ids=[case for case, *_ in BAD_BODIES])
async def test_bad_bodies_are_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    processor: TurnProcessor,
    case: str,
    body: bytes,
    content_type: str | None,
    status: int,
) -> None:
    started = await client.post("/chat/start", json={})
    key = conversation_id(set_cookie(started)[COOKIE_NAME].value)
    before = processor.conversation("web", key).state

    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/chat/turn", content=body.replace(b'"sender": "s", ', b""), headers=headers)

    assert response.status_code == status, (case, response.text)
    json_error(response)
    assert processor.conversation("web", key).state == before


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [(b"", "application/json", 400), (b"{", "application/json", 400), (b"{}", "text/plain", 415)],
)
async def test_start_refuses_bad_bodies(client: httpx.AsyncClient, body: bytes, content_type: str, status: int) -> None:
    response = await client.post("/chat/start", content=body, headers={"content-type": content_type})
    assert response.status_code == status
    json_error(response)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/turn", {}),
        ("/chat/turn", {"message": None}),
        ("/chat/turn", {"message": ["hei"]}),
        ("/chat/start", {"lang": "de"}),
        ("/chat/start", {"lang": 1}),
    ],
)
async def test_bad_fields_are_400(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    response = await client.post(path, json=body)
    assert response.status_code == 400
    json_error(response)


async def test_get_on_the_turn_endpoint_is_a_json_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/chat/turn")
    assert response.status_code == 405
    assert json_error(response)["error"] == "method_not_allowed"
