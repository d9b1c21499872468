"""bot/telegram.py: real Update JSON through the real webhook endpoint (and polling), a real PTB
Application, and a fake Bot API on 127.0.0.1 that records what the bot sends.

Both servers run in uvicorn on loopback ports, so requests, PTB's encoding, the rate limiter and
the error mapping all run as in production.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest
from telegram import Update

from bot.app import create_app
from bot.errors import SettingsError
from bot.settings import Settings, load_settings
from bot.telegram import (
    SECRET_HEADER,
    WEBHOOK_PATH,
    ChatOrderedUpdateProcessor,
    TelegramChannel,
    TelegramConfig,
    split_text,
)
from bot.turns import TurnProcessor, Turns
from flows.content import Content
from flows.render import Renderer
from tests.bot.channels import json_error
from tests.fakes import telegram_api
from tests.fakes.server import free_port, running
from tests.fakes.telegram_api import TOKEN, FakeBotAPI, callback_update, message_update

pytestmark = pytest.mark.filterwarnings(
    # PTB's own RetryAfter reads its deprecated int ``retry_after`` when a 429 arrives (PTB 22.2+).
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)
SECRET = "webhook-secret_42"
CHAT = 4242


@pytest.fixture
def fake() -> Iterator[tuple[FakeBotAPI, str]]:
    api = FakeBotAPI()
    with running(api.app) as url:
        yield api, url


@dataclass
class Bot:
    """Our server with Telegram in webhook mode, and ways to talk to it as Telegram does."""

    api: FakeBotAPI
    url: str
    http: httpx.Client
    render: Callable[..., str]

    def post(self, update: dict[str, Any], *, secret: str | None = SECRET) -> httpx.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return self.http.post(f"{self.url}{WEBHOOK_PATH}", json=update, headers=headers)

    def texts(self, chat_id: int = CHAT) -> list[str]:
        return self.api.sent_texts(chat_id)

    def wait_for_texts(self, count: int, chat_id: int = CHAT, timeout: float = 15.0) -> list[str]:
        wait_until(lambda: len(self.texts(chat_id)) >= count, timeout)
        return self.texts(chat_id)


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def webhook_config(api_url: str) -> TelegramConfig:
    return TelegramConfig(
        token=TOKEN,
        mode="webhook",
        base_url=f"{api_url}/bot",
        webhook_url="https://opastin.example.fi/telegram/webhook",
        webhook_secret=SECRET,
    )


@pytest.fixture
def bot(
    settings: Settings, processor: TurnProcessor, renderer: Renderer, fake: tuple[FakeBotAPI, str]
) -> Iterator[Bot]:
    api, api_url = fake
    turns = Turns(processor)
    app = create_app(settings, turns, telegram=TelegramChannel(webhook_config(api_url), turns))
    with running(app, lifespan="on") as url, httpx.Client(timeout=10) as http:
        yield Bot(api=api, url=url, http=http, render=renderer.text)


# --------------------------------------------------------------------------------------------------
# Webhook
# --------------------------------------------------------------------------------------------------


def test_webhook_is_registered_with_its_secret_at_start(bot: Bot) -> None:
    (call,) = bot.api.calls_of("setWebhook")
    assert call.params["url"] == "https://opastin.example.fi/telegram/webhook"
    assert call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == ["message", "callback_query"]


def test_command_menu_is_registered_in_every_language_at_start(bot: Bot, content: Content) -> None:
    calls = bot.api.calls_of("setMyCommands")

    # First the default (Finnish) menu for every other language, then one per language.
    assert [c.params.get("language_code") for c in calls] == [None, "fi", "sv", "en"]
    for call in calls:
        lang = call.params.get("language_code") or "fi"
        commands = call.params["commands"]
        assert [c["command"] for c in commands] == ["start", "help", "menu", "lang", "stop"]
        assert [(c["command"], c["description"]) for c in commands] == list(content.telegram_menu[lang])
        assert "scope" not in call.params, "the default scope"
    assert len({c.params["commands"][1]["description"] for c in calls[1:]}) == 3, "really in three languages"


def test_start_sends_privacy_notice_and_language_buttons(bot: Bot) -> None:
    assert bot.post(message_update(CHAT, "/start")).status_code == 200

    notice, choose = bot.wait_for_texts(2)
    assert notice == bot.render("common.privacy_notice", "fi", {})
    assert choose == bot.render("common.choose_language", "fi", {})
    keyboard = bot.api.calls_of("sendMessage")[1].params["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == ["/lang fi", "/lang sv", "/lang en"]


def test_start_speaks_the_users_telegram_language(bot: Bot) -> None:
    update = message_update(CHAT, "/start")
    update["message"]["from"]["language_code"] = "sv"
    bot.post(update)

    assert bot.wait_for_texts(1)[0] == bot.render("common.privacy_notice", "sv", {})


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
def test_webhook_without_the_right_secret_is_refused_unprocessed(
    bot: Bot, processor: TurnProcessor, secret: str | None
) -> None:
    response = bot.post(message_update(CHAT, "/start"), secret=secret)

    assert response.status_code == 403
    assert json_error(response)["error"] == "forbidden"
    time.sleep(0.3)
    assert bot.texts() == []
    assert processor.conversation("telegram", str(CHAT)).user is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[]", 400),
        (b'{"message": {"text": "hei"}}', 400),
        (b'{"update_id": 1, "message": "hei"}', 400),
    ],
)
def test_webhook_refuses_what_is_not_an_update(bot: Bot, body: bytes, status: int) -> None:
    response = bot.http.post(
        f"{bot.url}{WEBHOOK_PATH}", content=body, headers={SECRET_HEADER: SECRET, "content-type": "application/json"}
    )
    assert response.status_code == status
    json_error(response)


def test_text_message_is_one_turn(bot: Bot, processor: TurnProcessor) -> None:
    bot.post(message_update(CHAT, "miten ilmoittaudun työnhakijaksi"))

    texts = bot.wait_for_texts(1)
    assert texts[0] == bot.render("register_jobseeker.intro", "fi", {})
    assert processor.conversation("telegram", str(CHAT)).state.frame is not None


def test_replies_are_plain_text_even_when_the_user_writes_markup(bot: Bot) -> None:
    bot.post(message_update(CHAT, "<b>*hei*</b> [x](http://evil.example)"))
    bot.post(message_update(CHAT, "/menu", message_id=2))
    bot.wait_for_texts(2)

    for call in bot.api.calls_of("sendMessage"):
        assert "parse_mode" not in call.params
        assert call.params["link_preview_options"] == {"is_disabled": True}


# --------------------------------------------------------------------------------------------------
# Buttons
# --------------------------------------------------------------------------------------------------


def test_button_press_is_answered_its_keyboard_removed_and_its_payload_taken(bot: Bot) -> None:
    bot.post(message_update(CHAT, "/start"))
    bot.wait_for_texts(2)
    with_keyboard = bot.api.calls_of("sendMessage")[1]
    message_id = 1001  # the fake numbers the bot's messages from 1000

    bot.post(callback_update(CHAT, "/lang en", message_id=message_id, query_id="press-1"))

    texts = bot.wait_for_texts(3)
    assert texts[2] == bot.render("common.language_changed", "en", {})
    (answer,) = bot.api.calls_of("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "press-1"
    (edit,) = bot.api.calls_of("editMessageReplyMarkup")
    assert edit.params["chat_id"] == CHAT and edit.params["message_id"] == message_id
    assert "reply_markup" not in edit.params, "no markup: the keyboard is removed"
    assert with_keyboard.params["reply_markup"]["inline_keyboard"]


def test_stale_or_forged_button_is_politely_expired(bot: Bot) -> None:
    bot.post(callback_update(CHAT, "/c:ffffff:1"))

    assert bot.wait_for_texts(1)[0] == bot.render("common.button_expired", "fi", {})
    assert bot.api.calls_of("answerCallbackQuery")


def test_choice_buttons_fit_telegrams_callback_data_limit(bot: Bot) -> None:
    bot.post(message_update(CHAT, "/menu"))
    bot.wait_for_texts(1)
    bot.post(message_update(CHAT, "/register_jobseeker", message_id=2))
    wait_until(lambda: any("reply_markup" in c.params for c in bot.api.calls_of("sendMessage")[1:]))

    for call in bot.api.calls_of("sendMessage"):
        for row in call.params.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                assert len(button["callback_data"].encode()) <= 64


# --------------------------------------------------------------------------------------------------
# Order and concurrency
# --------------------------------------------------------------------------------------------------


def test_one_chats_updates_are_answered_in_order_while_chats_interleave(bot: Bot) -> None:
    languages = ["sv", "en", "fi"] * 4
    chats = (101, 102, 103)
    for number, lang in enumerate(languages, start=1):
        for chat in chats:
            assert bot.post(message_update(chat, f"/lang {lang}", message_id=number)).status_code == 200

    changed = {bot.render("common.language_changed", lang, {}): lang for lang in ("fi", "sv", "en")}

    def switches(chat: int) -> list[str]:
        return [changed[t] for t in bot.texts(chat) if t in changed]

    for chat in chats:
        wait_until(partial(lambda chat: len(switches(chat)) == len(languages), chat))
        assert switches(chat) == languages


def _update(data: dict[str, Any]) -> Update:
    return Update.de_json({"update_id": 1, **data}, None)


def test_update_processor_serialises_one_chat_and_runs_chats_concurrently() -> None:
    async def scenario() -> list[str]:
        processor = ChatOrderedUpdateProcessor()
        events: list[str] = []
        other_chat_ran = asyncio.Event()

        async def first_of_chat_a() -> None:
            events.append("a1 start")
            # Only finishes if chat B runs meanwhile: chats are concurrent.
            await asyncio.wait_for(other_chat_ran.wait(), 5)
            events.append("a1 end")

        async def second_of_chat_a() -> None:
            events.append("a2")

        async def chat_b() -> None:
            events.append("b")
            other_chat_ran.set()

        await asyncio.gather(
            processor.process_update(_update(message_update(1, "x")), first_of_chat_a()),
            processor.process_update(_update(message_update(1, "y")), second_of_chat_a()),
            processor.process_update(_update(message_update(2, "z")), chat_b()),
        )
        return events

    assert asyncio.run(scenario()) == ["a1 start", "b", "a1 end", "a2"]


def test_updates_received_before_shutdown_are_still_answered(
    settings: Settings, processor: TurnProcessor, fake: tuple[FakeBotAPI, str]
) -> None:
    api, api_url = fake
    turns = Turns(processor)
    app = create_app(settings, turns, telegram=TelegramChannel(webhook_config(api_url), turns))
    with running(app, lifespan="on") as url, httpx.Client() as http:
        for number in range(1, 11):
            update = message_update(500 + number, "/menu", message_id=number)
            http.post(f"{url}{WEBHOOK_PATH}", json=update, headers={SECRET_HEADER: SECRET})
    # The server has stopped; every accepted update was handled and answered before it did.
    assert sorted({c.params["chat_id"] for c in api.calls_of("sendMessage")}) == list(range(501, 511))


# --------------------------------------------------------------------------------------------------
# What is not text
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "template"),
    [
        ("sticker", telegram_api.STICKER, "common.unsupported_message"),
        ("voice", telegram_api.VOICE, "common.unsupported_message"),
        ("location", telegram_api.LOCATION, "common.unsupported_message"),
        ("photo", telegram_api.PHOTO, "common.attachment_not_here"),
        ("document", telegram_api.DOCUMENT, "common.attachment_not_here"),
    ],
)
def test_attachments_get_a_helpful_answer(bot: Bot, field: str, value: Any, template: str) -> None:
    bot.post(message_update(CHAT, None, **{field: value}))

    assert bot.wait_for_texts(1) == [bot.render(template, "fi", {})]


def test_attachment_answer_follows_the_conversation_language(bot: Bot) -> None:
    bot.post(message_update(CHAT, "/lang en"))
    bot.post(message_update(CHAT, None, message_id=2, sticker=telegram_api.STICKER))

    expected = bot.render("common.unsupported_message", "en", {})
    wait_until(lambda: bot.texts()[-1:] == [expected])  # after the language switch's replies


def test_group_chats_are_not_served(bot: Bot) -> None:
    update = message_update(CHAT, "/menu")
    update["message"]["chat"] = {"id": -100200, "type": "group", "title": "Toimisto"}
    assert bot.post(update).status_code == 200

    time.sleep(0.5)
    assert bot.api.calls_of("sendMessage") == []


# --------------------------------------------------------------------------------------------------
# Sending: 429, network errors, blocked users, long texts
# --------------------------------------------------------------------------------------------------


def test_429_is_waited_out_and_the_message_delivered(bot: Bot) -> None:
    bot.api.fail("sendMessage", status=429, retry_after=1)
    bot.post(message_update(CHAT, "/menu"))

    wait_until(lambda: len(bot.texts()) >= 1)
    statuses = [c.status for c in bot.api.calls if c.method == "sendMessage"]
    assert statuses[:2] == [429, 200]


def test_bad_gateway_is_retried(bot: Bot) -> None:
    bot.api.fail("sendMessage", status=502, times=2)
    bot.post(message_update(CHAT, "/menu"))

    wait_until(lambda: len(bot.texts()) >= 1)
    statuses = [c.status for c in bot.api.calls if c.method == "sendMessage"]
    assert statuses[:3] == [502, 502, 200]


def test_user_who_blocked_the_bot_costs_nothing_else(bot: Bot, processor: TurnProcessor) -> None:
    bot.api.block(CHAT)
    bot.post(message_update(CHAT, "/menu"))
    wait_until(lambda: any(c.status == 403 for c in bot.api.calls))

    bot.post(message_update(CHAT + 1, "/menu"))
    assert bot.wait_for_texts(1, chat_id=CHAT + 1)
    assert processor.conversation("telegram", str(CHAT)).state.version == 1, "the turn itself is stored"
    assert [c.status for c in bot.api.calls if c.params.get("chat_id") == CHAT] == [403]


def test_long_text_is_sent_in_parts_with_the_buttons_under_the_last(
    processor: TurnProcessor, fake: tuple[FakeBotAPI, str]
) -> None:
    api, api_url = fake
    channel = TelegramChannel(TelegramConfig(token=TOKEN, base_url=f"{api_url}/bot"), Turns(processor))
    paragraph = "Tämä on pitkä kappale, jossa on monta sanaa. " * 40
    text = "\n\n".join([paragraph.strip()] * 6)  # about 11 000 characters

    async def send() -> None:
        async with channel.application:
            await channel.send_text(CHAT, text, [("Kyllä", "/affirm"), ("Ei", "/deny")])

    asyncio.run(send())

    calls = api.calls_of("sendMessage")
    assert len(calls) == 3
    assert all(len(c.params["text"]) <= 4096 for c in calls)
    assert [("reply_markup" in c.params) for c in calls] == [False, False, True]
    assert " ".join(c.params["text"] for c in calls).split() == text.split()


def test_split_text_counts_utf16_units_and_cuts_at_breaks() -> None:
    assert split_text("") == []
    assert split_text("lyhyt") == ["lyhyt"]

    emoji = "🙂" * 3000  # 6000 UTF-16 units, no spaces: cut mid-run, never mid-character
    parts = split_text(emoji)
    assert "".join(parts) == emoji
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)

    lines = "\n".join(f"rivi {n}" for n in range(1000))
    parts = split_text(lines, limit=100)
    assert all(len(p) <= 100 for p in parts)
    assert all(not p.startswith("\n") and not p.endswith("\n") for p in parts)
    assert "\n".join(parts) == lines, "cuts fall on line breaks"


# --------------------------------------------------------------------------------------------------
# Polling and start-up errors
# --------------------------------------------------------------------------------------------------


def test_polling_mode_end_to_end(
    settings: Settings, processor: TurnProcessor, renderer: Renderer, fake: tuple[FakeBotAPI, str]
) -> None:
    api, api_url = fake
    turns = Turns(processor)
    channel = TelegramChannel(TelegramConfig(token=TOKEN, base_url=f"{api_url}/bot"), turns)
    with running(create_app(settings, turns, telegram=channel), lifespan="on") as url:
        api.push_update(message_update(CHAT, "/start"))
        wait_until(lambda: len(api.sent_texts(CHAT)) >= 2)
        assert httpx.post(f"{url}{WEBHOOK_PATH}", json={}).status_code == 404, "no webhook route when polling"

    assert api.sent_texts(CHAT)[0] == renderer.text("common.privacy_notice", "fi", {})
    assert api.calls_of("deleteWebhook"), "polling starts by removing any webhook"
    assert [c.params.get("language_code") for c in api.calls_of("setMyCommands")] == [None, "fi", "sv", "en"]
    polls = api.calls_of("getUpdates")
    assert polls[0].params["allowed_updates"] == ["message", "callback_query"]


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (429, 1)], ids=["500", "429"])
def test_refused_command_menu_is_one_warning_and_the_bot_starts_anyway(
    settings: Settings,
    processor: TurnProcessor,
    renderer: Renderer,
    fake: tuple[FakeBotAPI, str],
    caplog: pytest.LogCaptureFixture,
    status: int,
    retry_after: int | None,
) -> None:
    api, api_url = fake
    api.fail("setMyCommands", status=status, retry_after=retry_after, times=50)
    turns = Turns(processor)
    channel = TelegramChannel(TelegramConfig(token=TOKEN, base_url=f"{api_url}/bot"), turns)
    with (
        caplog.at_level(logging.WARNING, logger="bot.telegram"),
        running(create_app(settings, turns, telegram=channel), lifespan="on"),
    ):
        api.push_update(message_update(CHAT, "/start"))
        wait_until(lambda: len(api.sent_texts(CHAT)) >= 2)

    assert api.sent_texts(CHAT)[0] == renderer.text("common.privacy_notice", "fi", {})
    assert api.calls_of("setMyCommands") == []
    assert any(c.method == "setMyCommands" and c.status == status for c in api.calls)
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.telegram" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "could not register the command menu" in warnings[0]


def _settings(environ: dict[str, str], **extra: str) -> Settings:
    return load_settings(environ={**environ, **extra})


def test_no_token_means_no_telegram(environ: dict[str, str]) -> None:
    assert TelegramConfig.from_settings(_settings(environ)) is None


@pytest.mark.parametrize(
    "token", ["nonsense", "123456:short", "abc:AAHfakeFAKEfakeFAKEfakeFAKEfake12345", f"{TOKEN} x"]
)
def test_malformed_token_is_a_clear_error_that_hides_the_value(environ: dict[str, str], token: str) -> None:
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN is malformed") as error:
        TelegramConfig.from_settings(_settings(environ, TELEGRAM_BOT_TOKEN=token))
    assert token not in str(error.value)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({}, "OPASTIN_TELEGRAM_WEBHOOK_URL"),
        ({"OPASTIN_TELEGRAM_WEBHOOK_URL": "https://x.example/telegram/webhook"}, "OPASTIN_TELEGRAM_WEBHOOK_SECRET"),
        (
            {
                "OPASTIN_TELEGRAM_WEBHOOK_URL": "https://x.example/telegram/webhook",
                "OPASTIN_TELEGRAM_WEBHOOK_SECRET": "ä ö",
            },
            "OPASTIN_TELEGRAM_WEBHOOK_SECRET",
        ),
    ],
)
def test_webhook_mode_needs_url_and_secret(environ: dict[str, str], extra: dict[str, str], named: str) -> None:
    settings = _settings(environ, TELEGRAM_BOT_TOKEN=TOKEN, OPASTIN_TELEGRAM_MODE="webhook", **extra)
    with pytest.raises(SettingsError, match=named):
        TelegramConfig.from_settings(settings)


def test_base_url_of_a_self_hosted_bot_api(environ: dict[str, str]) -> None:
    config = TelegramConfig.from_settings(
        _settings(environ, TELEGRAM_BOT_TOKEN=TOKEN, OPASTIN_TELEGRAM_BASE_URL="http://127.0.0.1:8081")
    )
    assert config is not None and config.base_url == "http://127.0.0.1:8081/bot"
    assert TOKEN not in repr(config)


def test_token_rejected_by_telegram_is_a_clear_error(processor: TurnProcessor, fake: tuple[FakeBotAPI, str]) -> None:
    _, api_url = fake
    wrong = "987654321:AAHwrongWRONGwrongWRONGwrongWRONG123"
    channel = TelegramChannel(TelegramConfig(token=wrong, base_url=f"{api_url}/bot"), Turns(processor))

    with pytest.raises(SettingsError, match="did not accept TELEGRAM_BOT_TOKEN") as error:
        asyncio.run(channel.connect())
    assert wrong not in str(error.value)


def test_unreachable_bot_api_is_a_clear_error(processor: TurnProcessor) -> None:
    base = f"http://127.0.0.1:{free_port()}/bot"
    channel = TelegramChannel(TelegramConfig(token=TOKEN, base_url=base), Turns(processor))

    with pytest.raises(SettingsError, match="cannot reach the Telegram Bot API") as error:
        asyncio.run(channel.connect())
    assert TOKEN not in str(error.value)
