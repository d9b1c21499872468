"""nlu.interpreter: the Rasa client against a fake Rasa server on 127.0.0.1, and the JSON shape."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from flows.model import OUT_OF_SCOPE, Entity, IntentScore, ParsedMessage
from nlu.interpreter import Interpreter, RasaInterpreter, to_rasa_json
from nlu.model import NLUModel

NOW = datetime(2025, 12, 5, 14, 0, tzinfo=ZoneInfo("Europe/Helsinki"))


class FakeRasa:
    """A tiny ``POST /model/parse`` server: answers what ``answer`` says, records requests."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {}
        self.status = 200
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body})
                time.sleep(fake.delay)
                payload = json.dumps({**fake.answer, "text": body["text"]}).encode()
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the timeout tests hang up before the answer comes: that is their point

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    server = FakeRasa()
    server.answer = {
        "intent": {"name": "set_reminder", "confidence": 0.91},
        "intent_ranking": [
            {"name": "set_reminder", "confidence": 0.91},
            {"name": "list_reminders", "confidence": 0.06},
        ],
        "entities": [
            {"entity": "topic", "value": "plan", "start": 0, "end": 8, "extractor": "DIETClassifier"},
            {"entity": "overlapping", "value": "x", "start": 14, "end": 20},
        ],
    }
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_built_in_model_is_an_interpreter(mini_model: NLUModel) -> None:
    interpreter: Interpreter = mini_model
    assert interpreter.parse("moi", "fi", NOW).intent == "greet"


def test_rasa_gives_the_intent_and_the_built_in_model_the_rest(rasa: FakeRasa, mini_model: NLUModel) -> None:
    interpreter = RasaInterpreter(rasa.url, fallback=mini_model, timeout=2.0)
    parsed = interpreter.parse("muistuta huomenna klo 9", "fi", NOW)

    assert rasa.requests == [{"path": "/model/parse", "body": {"text": "muistuta huomenna klo 9"}}]
    assert (parsed.intent, parsed.confidence, parsed.language) == ("set_reminder", 0.91, "fi")
    assert parsed.ranking == (
        IntentScore(name="set_reminder", confidence=0.91),
        IntentScore(name="list_reminders", confidence=0.06),
    )
    # Our datetime (9..23) wins over Rasa's overlapping entity; Rasa's own non-overlapping one stays.
    assert [(e.type, e.value) for e in parsed.entities] == [("topic", "plan"), ("datetime", "2025-12-06T09:00")]
    interpreter.close()


def test_rasa_fallback_intent_is_out_of_scope(rasa: FakeRasa, mini_model: NLUModel) -> None:
    rasa.answer = {"intent": {"name": "nlu_fallback", "confidence": 0.5}, "intent_ranking": [], "entities": []}
    interpreter = RasaInterpreter(rasa.url, fallback=mini_model)
    assert interpreter.parse("jotain outoa", "fi", NOW).intent == OUT_OF_SCOPE


def test_payloads_and_empty_text_never_reach_rasa(rasa: FakeRasa, mini_model: NLUModel) -> None:
    interpreter = RasaInterpreter(rasa.url, fallback=mini_model)
    assert interpreter.parse("/greet", "fi", NOW).intent == "greet"
    assert interpreter.parse("  ", "fi", NOW).intent == OUT_OF_SCOPE
    assert rasa.requests == []


def test_rasa_down_falls_back_and_logs_once(mini_model: NLUModel, caplog: pytest.LogCaptureFixture) -> None:
    interpreter = RasaInterpreter(f"http://127.0.0.1:{free_port()}", fallback=mini_model, timeout=1.0)
    caplog.set_level(logging.INFO, logger="nlu.interpreter")

    parses = [interpreter.parse(text, "fi", NOW) for text in ("moi", "muistuta mua perjantaina", "hei")]

    assert parses == [mini_model.parse(t, "fi", NOW) for t in ("moi", "muistuta mua perjantaina", "hei")]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "not answering" in warnings[0].getMessage()
    assert "moi" not in caplog.text  # never the customer's words


def test_recovery_is_logged_once(rasa: FakeRasa, mini_model: NLUModel, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nlu.interpreter")
    rasa.status = 500
    interpreter = RasaInterpreter(rasa.url, fallback=mini_model)
    assert interpreter.parse("moi", "fi", NOW).intent == "greet"
    assert interpreter.parse("moi", "fi", NOW).intent == "greet"
    rasa.status = 200
    assert interpreter.parse("moi", "fi", NOW).intent == "set_reminder"
    assert interpreter.parse("moi", "fi", NOW).intent == "set_reminder"
    messages = [r.getMessage() for r in caplog.records]
    assert sum("not answering" in m for m in messages) == 1
    assert sum("answers again" in m for m in messages) == 1


def test_a_slow_rasa_times_out_to_the_built_in_model(rasa: FakeRasa, mini_model: NLUModel) -> None:
    rasa.delay = 1.0
    interpreter = RasaInterpreter(rasa.url, fallback=mini_model, timeout=0.2)
    started = time.perf_counter()
    parsed = interpreter.parse("moi", "fi", NOW)
    assert time.perf_counter() - started < 0.9
    assert parsed == mini_model.parse("moi", "fi", NOW)


def test_a_malformed_answer_falls_back(rasa: FakeRasa, mini_model: NLUModel) -> None:
    rasa.answer = {"unexpected": True}
    interpreter = RasaInterpreter(rasa.url, fallback=mini_model)
    assert interpreter.parse("moi", "fi", NOW).intent == "greet"


def test_to_rasa_json_has_rasas_shape() -> None:
    parsed = ParsedMessage(
        text="muistuta 5.12.",
        intent="set_reminder",
        confidence=0.9,
        ranking=(IntentScore(name="set_reminder", confidence=0.9), IntentScore(name="greet", confidence=0.1)),
        entities=(Entity(type="date", value="2025-12-05", text="5.12.", start=9, end=14),),
        language="fi",
    )
    assert to_rasa_json(parsed) == {
        "text": "muistuta 5.12.",
        "intent": {"name": "set_reminder", "confidence": 0.9},
        "intent_ranking": [{"name": "set_reminder", "confidence": 0.9}, {"name": "greet", "confidence": 0.1}],
        "entities": [{"entity": "date", "value": "2025-12-05", "start": 9, "end": 14, "text": "5.12."}],
        "language": "fi",
    }
    json.dumps(to_rasa_json(parsed))


@pytest.mark.skipif("RASA_URL" not in os.environ, reason="RASA_URL is not set: no Rasa server to test against")
def test_a_real_rasa_server(mini_model: NLUModel) -> None:
    interpreter = RasaInterpreter(os.environ["RASA_URL"], fallback=mini_model, timeout=10.0)
    parsed = interpreter.parse("muistuta mua huomenna klo 9", "fi", NOW)
    assert parsed.intent and parsed.ranking
    assert parsed.entity("datetime") is not None
    assert 0.0 <= parsed.confidence <= 1.0
