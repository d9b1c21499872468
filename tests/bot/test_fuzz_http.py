"""Thousands of random bodies against every HTTP endpoint of ``opastin serve``: never a 5xx.

The real app runs in uvicorn on a loopback port with Telegram in webhook mode against the fake
Bot API, so bodies that happen to be valid become real turns and real Telegram updates. Every
answer must be a 2xx or a 4xx with the JSON error shape, and no handler may log an error
(PTB catches handler exceptions, so a crash there would not show as a 5xx).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from telegram.ext import AIORateLimiter

from bot.app import create_app
from bot.settings import load_settings
from bot.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel, TelegramConfig
from bot.turns import Turns
from flows.content import Content
from flows.render import Renderer
from tests.bot.channels import make_processor
from tests.fakes.server import running
from tests.fakes.telegram_api import TOKEN, FakeBotAPI

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
]
EXAMPLES = 1000
SECRET = "fuzz-secret"
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Server:
    url: str
    http: httpx.Client
    errors: _Errors


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, content: Content, renderer: Renderer, nlu_model: Any
) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("fuzz")
    app_settings = load_settings(
        environ={"OPASTIN_DATA_DIR": str(data), "OPASTIN_DATABASE_URL": f"sqlite:///{data}/f.db"}
    )
    processor = make_processor(app_settings, content, renderer, nlu_model)
    api = FakeBotAPI()
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    try:
        with running(api.app) as api_url:
            turns = Turns(processor)
            config = TelegramConfig(
                token=TOKEN,
                mode="webhook",
                base_url=f"{api_url}/bot",
                webhook_url="https://opastin.example.fi/telegram/webhook",
                webhook_secret=SECRET,
            )
            # Telegram's 30 messages a second would make the fake API the bottleneck of the run.
            unlimited = AIORateLimiter(overall_max_rate=0, max_retries=3)
            app = create_app(app_settings, turns, telegram=TelegramChannel(config, turns, rate_limiter=unlimited))
            with running(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=30) as http:
                yield Server(url=url, http=http, errors=errors)
    finally:
        logging.getLogger().removeHandler(errors)
        processor.close()


# --------------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
messages = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["/menu", "/start", "/lang sv", "/c:ffffff:1", "/affirm", "/deny", "/x" * 40, "", " \n"]),
    # Around the 4000-character limit, built cheaply: generating long random text is slow.
    st.builds(lambda char, count: char * count, st.characters(codec="utf-8"), st.integers(3990, 4100)),
)


def _body(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[bytes]:
    """Bytes that are sometimes right: random bytes, random JSON, or the fields with random values."""
    shaped = st.fixed_dictionaries({}, optional={name: s | json_values for name, s in fields.items()})
    return st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        shaped.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
        shaped.map(lambda v: json.dumps(v).encode()),
        st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


content_types = st.one_of(
    st.just("application/json"),
    st.sampled_from(
        [
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "APPLICATION/JSON",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ]
    ),
    # Header values cannot start or end with a space (h11 refuses to send them).
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(str.strip),
)


def check(response: httpx.Response, server: Server) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error", "message"}, body
    elif response.content:
        response.json()
    assert server.errors.records == [], [logging.Formatter().format(r) for r in server.errors.records][:1]


def post(server: Server, path: str, body: bytes, content_type: str, **headers: str) -> httpx.Response:
    return server.http.post(path, content=body, headers={"content-type": content_type, **headers})


# --------------------------------------------------------------------------------------------------
# One test per endpoint
# --------------------------------------------------------------------------------------------------


@FUZZ
@given(
    body=_body({"sender": st.text(max_size=20) | st.integers(), "message": messages}),
    content_type=content_types,
)
def test_rest_webhook(server: Server, body: bytes, content_type: str) -> None:
    check(post(server, "/webhooks/rest/webhook", body, content_type), server)


@FUZZ
@given(body=_body({"text": messages, "lang": st.sampled_from(["fi", "sv", "en", "de"])}), content_type=content_types)
def test_model_parse(server: Server, body: bytes, content_type: str) -> None:
    check(post(server, "/model/parse", body, content_type), server)


@FUZZ
@given(
    body=_body({"message": messages}),
    content_type=content_types,
    cookie=st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=";"), max_size=50),
)
def test_web_turn(server: Server, body: bytes, content_type: str, cookie: str) -> None:
    check(post(server, "/chat/turn", body, content_type, cookie=f"opastin_session={cookie}"), server)


@FUZZ
@given(body=_body({"lang": st.sampled_from(["fi", "sv", "en", "xx"])}), content_type=content_types)
def test_web_start(server: Server, body: bytes, content_type: str) -> None:
    check(post(server, "/chat/start", body, content_type), server)


def _update(chat_id: int, text: Any, kind: str) -> dict[str, Any]:
    chat = {"id": chat_id, "type": "private", "first_name": "F"}
    sender = {"id": chat_id, "is_bot": False, "first_name": "F", "language_code": "fi"}
    if kind == "callback":
        return {
            "update_id": 1,
            "callback_query": {
                "id": "q",
                "from": sender,
                "chat_instance": "c",
                "data": text,
                "message": {"message_id": 1, "date": 0, "chat": chat, "text": "x"},
            },
        }
    message: dict[str, Any] = {"message_id": 1, "date": 0, "chat": chat, "from": sender}
    message[kind] = text
    return {"update_id": 1, "message": message}


telegram_bodies = st.one_of(
    _body({"update_id": st.integers(), "message": json_values, "callback_query": json_values}),
    st.builds(
        _update,
        st.integers(1, 50),
        messages | json_values,
        st.sampled_from(["text", "text", "callback", "sticker", "caption"]),
    ).map(lambda u: json.dumps(u).encode()),
)


@FUZZ
@given(body=telegram_bodies, content_type=content_types | st.just("application/json"))
def test_telegram_webhook(server: Server, body: bytes, content_type: str) -> None:
    check(post(server, WEBHOOK_PATH, body, content_type, **{SECRET_HEADER: SECRET}), server)


@settings(max_examples=200, deadline=None, database=None)
@given(body=telegram_bodies, secret=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=20))
def test_telegram_webhook_without_the_secret_is_always_403(server: Server, body: bytes, secret: str) -> None:
    assume(secret != SECRET)
    response = post(server, WEBHOOK_PATH, body, "application/json", **{SECRET_HEADER: secret})
    assert response.status_code == 403
    check(response, server)


def test_no_update_handler_failed(server: Server) -> None:
    """Updates are handled after the webhook answered; give the last ones time to finish."""
    time.sleep(2)
    assert server.errors.records == [], [logging.Formatter().format(r) for r in server.errors.records][:1]
