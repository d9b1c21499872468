"""bot/rest.py: Rasa's REST channel and /model/parse, through the real app with its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import create_app
from bot.settings import Settings, load_settings
from bot.store import Store
from bot.turns import TurnProcessor, Turns
from flows.content import Content
from flows.render import Renderer
from tests.bot.channels import BAD_BODIES, in_process, json_error, make_processor
from tests.conversation_runner import ConversationCase, load_cases

pytestmark = pytest.mark.anyio
WEBHOOK = "/webhooks/rest/webhook"


async def say(client: httpx.AsyncClient, sender: str, message: str) -> list[dict[str, Any]]:
    response = await client.post(WEBHOOK, json={"sender": sender, "message": message})
    assert response.status_code == 200, response.text
    messages = response.json()
    assert isinstance(messages, list)
    return list(messages)


# --------------------------------------------------------------------------------------------------
# The Rasa shape
# --------------------------------------------------------------------------------------------------


async def test_answers_as_rasa_does(client: httpx.AsyncClient, renderer: Renderer) -> None:
    messages = await say(client, "alice", "/menu")

    assert messages, "the menu command must answer"
    for message in messages:
        assert message["recipient_id"] == "alice"
        assert isinstance(message["text"], str) and message["text"]
        # Rasa's CollectingOutputChannel drops keys whose value is None: no empty "buttons".
        assert set(message) <= {"recipient_id", "text", "buttons"}
        for button in message.get("buttons", []):
            assert set(button) == {"title", "payload"}
            assert button["payload"].startswith("/")
    assert messages[0]["text"] == renderer.text("common.menu", "fi", {})
    assert any(m.get("buttons") for m in messages), "the menu offers its topics as buttons"


async def test_a_button_payload_sent_back_continues_the_flow(client: httpx.AsyncClient) -> None:
    menu = await say(client, "bob", "/menu")
    topics = {b["payload"]: b["title"] for m in menu for b in m.get("buttons", [])}
    assert "/join_video_meeting" in topics

    walkthrough = await say(client, "bob", "/join_video_meeting")
    question = walkthrough[-1]
    assert question.get("buttons"), "the walkthrough asks which device, with buttons"

    answer = await say(client, "bob", question["buttons"][0]["payload"])
    assert answer and answer[0]["text"] != question["text"]


async def test_each_sender_is_its_own_conversation(client: httpx.AsyncClient, processor: TurnProcessor) -> None:
    await say(client, "anna", "/lang sv")
    await say(client, "ben", "/lang en")

    assert processor.conversation("rest", "anna").state.language == "sv"
    assert processor.conversation("rest", "ben").state.language == "en"


async def test_numeric_sender_as_some_rasa_clients_send_it(client: httpx.AsyncClient, processor: TurnProcessor) -> None:
    response = await client.post(WEBHOOK, json={"sender": 42, "message": "/menu"})

    assert response.status_code == 200
    assert response.json()[0]["recipient_id"] == "42"
    assert processor.conversation("rest", "42").user is not None


async def test_rasa_health_check(client: httpx.AsyncClient) -> None:
    response = await client.get("/webhooks/rest/")
    assert response.json() == {"status": "ok"}


# --------------------------------------------------------------------------------------------------
# What the engine answers, not the channel
# --------------------------------------------------------------------------------------------------


async def test_unknown_button_payload_is_answered_by_the_engine(client: httpx.AsyncClient, renderer: Renderer) -> None:
    messages = await say(client, "carl", "/c:ffffff:1")

    assert messages[0]["text"] == renderer.text("common.button_expired", "fi", {})


async def test_over_long_message_gets_the_too_long_answer(
    client: httpx.AsyncClient, renderer: Renderer, processor: TurnProcessor
) -> None:
    messages = await say(client, "dora", "a" * (processor.max_chars + 1))

    assert [m["text"] for m in messages] == [renderer.text("common.too_long", "fi", {"limit": processor.max_chars})]
    assert processor.conversation("rest", "dora").user is None, "nothing is stored for a refused message"


# --------------------------------------------------------------------------------------------------
# Bad input: 4xx JSON, no turn, nothing lost
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "body", "content_type", "status"), BAD_BODIES, ids=[case for case, *_ in BAD_BODIES])
async def test_bad_bodies_are_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    processor: TurnProcessor,
    case: str,
    body: bytes,
    content_type: str | None,
    status: int,
) -> None:
    await say(client, "s", "/lang en")
    before = processor.conversation("rest", "s").state

    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(WEBHOOK, content=body, headers=headers)

    assert response.status_code == status, (case, response.text)
    json_error(response)
    assert processor.conversation("rest", "s").state == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "hei"}, "sender"),
        ({"sender": None, "message": "hei"}, "sender"),
        ({"sender": ["s"], "message": "hei"}, "sender"),
        ({"sender": True, "message": "hei"}, "sender"),
        ({"sender": "", "message": "hei"}, "sender"),
        ({"sender": "a\nb", "message": "hei"}, "sender"),
        ({"sender": "x" * 129, "message": "hei"}, "sender"),
        ({"sender": "s"}, "message"),
        ({"sender": "s", "message": 5}, "message"),
        ({"sender": "s", "message": {"text": "hei"}}, "message"),
    ],
)
async def test_bad_fields_are_named_in_the_error(client: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    response = await client.post(WEBHOOK, json=body)

    assert response.status_code == 400
    assert f'"{field}"' in json_error(response)["message"]


async def test_wrong_method_and_unknown_path_are_json_errors(client: httpx.AsyncClient) -> None:
    assert json_error(await client.get(WEBHOOK))["error"] == "method_not_allowed"
    assert json_error(await client.post("/webhooks/nope", json={}))["error"] == "not_found"


# --------------------------------------------------------------------------------------------------
# /model/parse
# --------------------------------------------------------------------------------------------------


async def test_parse_answers_rasa_shape(client: httpx.AsyncClient) -> None:
    response = await client.post("/model/parse", json={"text": "miten ilmoittaudun työnhakijaksi"})

    assert response.status_code == 200
    parse = response.json()
    assert parse["text"] == "miten ilmoittaudun työnhakijaksi"
    assert parse["intent"]["name"] == "register_jobseeker"
    assert 0.0 < parse["intent"]["confidence"] <= 1.0
    assert isinstance(parse["entities"], list)
    ranking = parse["intent_ranking"]
    assert ranking[0]["name"] == "register_jobseeker"
    assert [r["confidence"] for r in ranking] == sorted((r["confidence"] for r in ranking), reverse=True)


async def test_parse_reports_entities(client: httpx.AsyncClient) -> None:
    response = await client.post("/model/parse", json={"text": "muistuta minua 12.3.2025 klo 14", "lang": "fi"})

    entities = response.json()["entities"]
    assert entities, "a date and a time are entities"
    for entity in entities:
        assert {"entity", "value", "start", "end"} <= set(entity)


async def test_parse_stores_nothing(client: httpx.AsyncClient, processor: TurnProcessor) -> None:
    await client.post("/model/parse", json={"text": "hei"})
    assert processor.store.handoffs(status=None) == ()


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 400), ({"text": 3}, 400), ({"text": "hei", "lang": "de"}, 400), ({"text": "a" * 5000}, 413)],
)
async def test_parse_refuses_bad_fields(client: httpx.AsyncClient, body: dict[str, Any], status: int) -> None:
    response = await client.post("/model/parse", json=body)
    assert response.status_code == status
    json_error(response)


# --------------------------------------------------------------------------------------------------
# Bearer token
# --------------------------------------------------------------------------------------------------


@pytest.fixture
async def guarded(environ: dict[str, str], processor: TurnProcessor) -> AsyncIterator[Callable[[dict[str, str]], Any]]:
    settings = load_settings(environ={**environ, "OPASTIN_REST_TOKEN": "s3cret-token"})
    async with in_process(create_app(settings, Turns(processor))) as client:

        async def post(headers: dict[str, str]) -> tuple[int, int]:
            webhook = await client.post(WEBHOOK, json={"sender": "t", "message": "/menu"}, headers=headers)
            parse = await client.post("/model/parse", json={"text": "hei"}, headers=headers)
            return webhook.status_code, parse.status_code

        yield post


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret-token"}, {"authorization": "Basic s3cret-token"}],
)
async def test_token_required_when_configured(
    guarded: Callable[[dict[str, str]], Any], headers: dict[str, str]
) -> None:
    assert await guarded(headers) == (401, 401)


async def test_right_token_is_accepted(guarded: Callable[[dict[str, str]], Any]) -> None:
    assert await guarded({"authorization": "Bearer s3cret-token"}) == (200, 200)


async def test_missing_token_answer_says_how(environ: dict[str, str], processor: TurnProcessor) -> None:
    settings = load_settings(environ={**environ, "OPASTIN_REST_TOKEN": "s3cret-token"})
    async with in_process(create_app(settings, Turns(processor))) as client:
        response = await client.post(WEBHOOK, json={"sender": "t", "message": "hei"})
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in json_error(response)["message"]
    assert processor.conversation("rest", "t").user is None


# --------------------------------------------------------------------------------------------------
# The same conversations as the engine tests, through REST
# --------------------------------------------------------------------------------------------------


CONVERSATIONS = Path(__file__).resolve().parents[1] / "conversations"


@pytest.mark.parametrize("case", list(load_cases(CONVERSATIONS)), ids=str)
async def test_conversation_files_give_the_same_answers_through_rest(
    case: ConversationCase, settings: Settings, content: Content, renderer: Renderer, nlu_model: Any, tmp_path: Path
) -> None:
    """Style guide 7: the channel changes nothing. Each file's user lines go once through REST and
    once straight to a ``TurnProcessor`` on its own database, at the case's time; the answers
    must be the same texts and buttons."""
    rest = make_processor(settings, content, renderer, nlu_model, case.now)
    direct = TurnProcessor(
        content=content,
        store=Store.open(f"sqlite:///{tmp_path / 'direct.sqlite3'}"),
        interpreter=nlu_model,
        renderer=renderer,
        clock=lambda: case.now,
    )
    try:
        async with in_process(create_app(settings, Turns(rest))) as client:
            buttons: list[dict[str, str]] = []
            lines = [f"/lang {case.language}"] + [str(step["user"]) for _, step in case.steps if "user" in step]
            for text in lines:
                if text.isdigit() and 1 <= int(text) <= len(buttons):
                    text = buttons[int(text) - 1]["payload"]  # as the runner maps a number to its button
                through_rest = await say(client, "case", text)
                straight = direct.process("rest", "case", text)
                assert [
                    (m["text"], [(b["title"], b["payload"]) for b in m.get("buttons", [])]) for m in through_rest
                ] == [(m.text, [tuple(b) for b in m.buttons]) for m in straight.messages], f"{case}: {text!r}"
                buttons = [b for m in through_rest for b in m.get("buttons", [])]
    finally:
        rest.close()
        direct.close()
