"""A real ``opastin chat`` process with piped stdin, the real NLU and a SQLite file: killed with
SIGKILL between turns and during turns, restarted, and the conversation goes on where it stopped.

The invariant checked after every kill: the stored state is a whole turn's. Every committed turn
adds exactly one incoming transcript line and one version, so ``version == incoming lines``;
a half-written turn would break it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.store import Store
from flows.render import Renderer
from tests.conftest import CONTENT_DIR, ROOT

pytestmark = pytest.mark.slow

USER = "kim"
WAIT_S = 120.0  # generous: the machine is shared and a cold start imports numpy and scikit-learn


class Chat:
    """``opastin chat`` in a subprocess; stdout and stderr are collected by threads as they come."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "chat", "--user", USER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        self._out = bytearray()
        self._err = bytearray()
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self._out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self._err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: Any, buffer: bytearray) -> None:
        while chunk := os.read(stream.fileno(), 65536):
            with self._lock:
                buffer.extend(chunk)

    @property
    def output(self) -> str:
        with self._lock:
            return self._out.decode("utf-8", errors="replace")

    @property
    def errors(self) -> str:
        with self._lock:
            return self._err.decode("utf-8", errors="replace")

    def send(self, *lines: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
        self.proc.stdin.flush()

    def wait_for(self, text: str, *, count: int = 1, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while self.output.count(text) < count:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"never saw {text!r} (x{count})\n--- stdout\n{self.output}\n--- stderr\n{self.errors}")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._close()

    def finish(self, timeout: float = WAIT_S) -> int:
        """Close stdin (end of input) and wait for a clean exit."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout)
        self._close()
        return code

    def _close(self) -> None:
        for reader in self._readers:
            reader.join(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()


@pytest.fixture
def chat_env(environ: dict[str, str], nlu_model: object) -> dict[str, str]:
    """The process environment; ``nlu_model`` has trained the shared model file already."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPASTIN_")}
    env.update(environ)
    env["OPASTIN_CONTENT_DIR"] = str(CONTENT_DIR)
    return env


@pytest.fixture
def db(environ: dict[str, str]) -> Iterator[Store]:
    store = Store.open(environ["OPASTIN_DATABASE_URL"])
    yield store
    store.close()


def first_line(renderer: Renderer, key: str, lang: str = "en") -> str:
    return renderer.text(key, lang, {}).splitlines()[0]


def whole_turns(db: Store) -> tuple[int, int]:
    """(version, incoming transcript lines); equal when every stored turn is whole."""
    conversation = db.load("terminal", USER)
    if conversation.user is None:
        return (0, 0)
    incoming = [e for e in db.transcript(conversation.user.id, limit=10_000) if e.direction == "in"]
    return conversation.state.version, len(incoming)


def test_killed_between_turns_the_conversation_goes_on(chat_env: dict[str, str], renderer: Renderer, db: Store) -> None:
    ask_identification = first_line(renderer, "register_jobseeker.ask_identification")

    chat = Chat(chat_env, "--lang", "en")
    chat.wait_for(first_line(renderer, "common.choose_language"))
    chat.send("English")  # a button's text works as well as its number
    chat.send("I want to register as a jobseeker")
    chat.wait_for(first_line(renderer, "register_jobseeker.ask_citizenship"))
    chat.send("1")  # a citizen of the EU
    chat.wait_for(ask_identification)
    before = db.load("terminal", USER).state
    chat.kill()

    assert before.frame is not None and before.frame.step == "identification" and before.frame.waiting
    assert before.slots["reg_citizenship"] == "citizen_eu"
    assert whole_turns(db) == (4, 4)

    again = Chat(chat_env)
    again.send("2")  # mobile certificate, answered after the restart
    assert again.finish() == 0
    out = again.output
    assert out.index(ask_identification) < out.index(first_line(renderer, "register_jobseeker.ask_situation"))
    assert "Traceback" not in again.errors
    after = db.load("terminal", USER).state
    assert after.slots["reg_citizenship"] == "citizen_eu"  # remembered from before the kill
    assert after.slots["reg_identification"] == "id_mobile"
    assert after.language == "en"
    assert whole_turns(db) == (6, 6)  # + the resume's repeat and the answer


def test_killed_during_a_turn_the_previous_turn_stays(
    chat_env: dict[str, str], renderer: Renderer, db: Store, environ: dict[str, str]
) -> None:
    chat = Chat(chat_env, "--lang", "en")
    chat.send("3", "I want to register as a jobseeker", "1")
    chat.wait_for(first_line(renderer, "register_jobseeker.ask_identification"))
    before = db.load("terminal", USER)
    assert before.user is not None
    lines_before = db.transcript(before.user.id, limit=10_000)

    # Hold the write lock, as a slow writer would: the answer below is parsed and stepped, then
    # waits for the lock inside its turn. Kill it there.
    path = environ["OPASTIN_DATABASE_URL"].removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        chat.send("2")
        time.sleep(1.0)
        assert chat.proc.poll() is None
        assert first_line(renderer, "register_jobseeker.ask_situation") not in chat.output
        chat.kill()
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    after = db.load("terminal", USER)
    assert after.state == before.state
    assert db.transcript(before.user.id, limit=10_000) == lines_before

    # Kills in the middle of a busy stream of turns: whatever was committed is whole.
    script = ["back", "2", "repeat", "1", "menu", "I want to register as a jobseeker", "1"] * 20
    for progress in (2, 9, 23):
        start_version, _ = whole_turns(db)
        busy = Chat(chat_env)
        busy.send(*script)
        deadline = time.monotonic() + WAIT_S
        while whole_turns(db)[0] < start_version + progress and time.monotonic() < deadline:
            time.sleep(0.001)
        busy.kill()
        version, incoming = whole_turns(db)
        assert start_version + progress <= version < start_version + 1 + len(script)  # killed mid-stream
        assert version == incoming
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    final = Chat(chat_env)
    final.send("menu")
    assert final.finish() == 0
    assert "Traceback" not in final.errors
    version, incoming = whole_turns(db)
    assert version == incoming


def test_bad_input_gets_clear_answers_and_loses_nothing(
    chat_env: dict[str, str], renderer: Renderer, db: Store
) -> None:
    chat = Chat(chat_env, "--lang", "en")
    chat.send("3", "I want to register as a jobseeker", "1")
    chat.wait_for(first_line(renderer, "register_jobseeker.ask_identification"))
    before = db.load("terminal", USER).state
    empty = first_line(renderer, "common.empty_message")
    too_long = renderer.text("common.too_long", "en", {"limit": 4000}).splitlines()[0]

    chat.send("", "   ", "\x00\x07\x1b")
    chat.wait_for(empty, count=3)
    chat.send("x" * 100_000)
    chat.wait_for(too_long)
    assert db.load("terminal", USER).state == before  # refused input stores nothing

    chat.send("😀🙈", "\x1b[31mhello\x1b[0m")
    chat.send("2")  # the pending question still takes its answer
    chat.wait_for(first_line(renderer, "register_jobseeker.ask_situation"))
    assert chat.finish() == 0
    assert "Traceback" not in chat.errors
    after = db.load("terminal", USER).state
    assert after.slots["reg_citizenship"] == "citizen_eu"
    assert after.slots["reg_identification"] == "id_mobile"
    version, incoming = whole_turns(db)
    assert version == incoming


def test_invalid_utf8_on_stdin_does_not_end_the_session(chat_env: dict[str, str], renderer: Renderer) -> None:
    chat = Chat(chat_env, "--lang", "en")
    assert chat.proc.stdin is not None
    chat.proc.stdin.write(b"3\n\xff\xfe broken \xc3\n")
    chat.proc.stdin.flush()
    chat.send("menu")
    assert chat.finish() == 0
    assert "Traceback" not in chat.errors
    assert chat.output.count(first_line(renderer, "common.menu")) >= 2


def test_ctrl_c_leaves_cleanly(chat_env: dict[str, str], renderer: Renderer) -> None:
    chat = Chat(chat_env, "--lang", "en")
    chat.wait_for(first_line(renderer, "common.choose_language"))
    chat.proc.send_signal(signal.SIGINT)
    assert chat.proc.wait(timeout=WAIT_S) == 0
    chat._close()
    assert "Traceback" not in chat.errors
