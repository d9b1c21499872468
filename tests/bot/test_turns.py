"""bot/turns.py: one turn end to end on the real content and a SQLite file.

The NLU is replaced by ``ScriptedInterpreter``, a double at our own one-method seam
(``Interpreter.parse``), so that these tests pin the shell's sequencing and not the classifier;
``test_chat_process.py`` runs the real NLU.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.actions import ACTIONS
from bot.settings import Settings, load_settings
from bot.store import Store, TranscriptEntry
from bot.turns import TurnProcessor, TurnResult, Turns, build_interpreter, clean_text
from flows.actions import SHELL_ACTIONS
from flows.content import Content
from flows.model import OUT_OF_SCOPE, ParsedMessage, ScheduleReminder, State
from flows.render import Renderer
from nlu.interpreter import RasaInterpreter

CHANNEL = "test"


@dataclass
class ScriptedInterpreter:
    """``/intent`` is that intent (as a button payload is); listed phrases map to intents; the rest
    is out of scope. Records what it was asked, and can run a hook while "parsing"."""

    intents: frozenset[str]
    phrases: Mapping[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str | None, datetime | None]] = field(default_factory=list)
    during_parse: list[object] = field(default_factory=list)

    def parse(self, text: str, lang_hint: str | None = None, now: datetime | None = None) -> ParsedMessage:
        self.calls.append((text, lang_hint, now))
        if self.during_parse:
            hook = self.during_parse.pop(0)
            hook()  # type: ignore[operator]
        name = text[1:] if text.startswith("/") else self.phrases.get(text)
        if name in self.intents:
            return ParsedMessage(text=text, intent=name, confidence=1.0)
        return ParsedMessage(text=text, intent=OUT_OF_SCOPE, confidence=0.0)


@pytest.fixture
def interpreter(content: Content, known_intents: tuple[str, ...]) -> ScriptedInterpreter:
    return ScriptedInterpreter(intents=frozenset(known_intents))


@pytest.fixture
def processor(
    content: Content, renderer: Renderer, store: Store, interpreter: ScriptedInterpreter, now: datetime
) -> TurnProcessor:
    return TurnProcessor(content=content, renderer=renderer, store=store, interpreter=interpreter, clock=lambda: now)


def templates(result: TurnResult) -> list[str]:
    return [m.template for m in result.messages]


def buttons(result: TurnResult) -> list[tuple[str, str]]:
    return [b for m in result.messages for b in m.buttons]


def transcript(store: Store, who: str = "alice") -> tuple[TranscriptEntry, ...]:
    user = store.user(CHANNEL, who)
    return store.transcript(user.id, limit=1000) if user is not None else ()


# --------------------------------------------------------------------------------------------------
# A conversation
# --------------------------------------------------------------------------------------------------


def test_start_shows_the_privacy_notice_and_the_languages(processor: TurnProcessor, store: Store) -> None:
    result = processor.start_conversation(CHANNEL, "alice")
    assert templates(result) == ["common.privacy_notice", "common.choose_language"]
    assert [title for title, _ in buttons(result)] == ["Suomi", "Svenska", "English"]
    assert result.state is not None and result.state.version == 1
    assert (transcript(store)[0].direction, transcript(store)[0].text) == ("in", "/start")


def test_start_in_a_given_language(processor: TurnProcessor, store: Store) -> None:
    result = processor.start_conversation(CHANNEL, "alice", language="sv")
    assert result.language == "sv"
    assert store.load(CHANNEL, "alice").state.language == "sv"


def test_a_walkthrough_is_stored_turn_by_turn_and_resumes_in_a_new_processor(
    processor: TurnProcessor,
    store: Store,
    content: Content,
    renderer: Renderer,
    interpreter: ScriptedInterpreter,
    now: datetime,
) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")
    first = processor.process(CHANNEL, "alice", "/register_jobseeker")
    assert first.language == "en"
    assert all(t.startswith("register_jobseeker.") for t in templates(first))
    assert templates(first)[-1] == "register_jobseeker.ask_citizenship"
    citizenship = buttons(first)
    assert len(citizenship) == 2
    assert interpreter.calls[-1] == ("/register_jobseeker", "en", now)

    # A new processor on the same database (a restarted process) goes on from the stored state.
    again = TurnProcessor(content=content, renderer=renderer, store=store, interpreter=interpreter, clock=lambda: now)
    second = again.process(CHANNEL, "alice", citizenship[0][1])
    assert templates(second)[-1] == "register_jobseeker.ask_identification"
    state = store.load(CHANNEL, "alice").state
    assert state.slots["reg_citizenship"] == "citizen_eu"
    assert state.version == 3
    lines = transcript(store)
    assert [e.text for e in lines if e.direction == "in"] == ["/start", "/register_jobseeker", citizenship[0][1]]
    assert lines[-1].template == "register_jobseeker.ask_identification"
    assert "register_jobseeker" in {e.intent for e in lines}


def test_asking_for_a_person_records_a_handoff_with_a_summary(processor: TurnProcessor, store: Store) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")
    processor.process(CHANNEL, "alice", "/register_jobseeker")
    result = processor.process(CHANNEL, "alice", "a person")
    assert "common.handoff_done" in templates(result)
    (request,) = store.handoffs()
    assert (request.external_id, request.topic, request.reason) == ("alice", "register_jobseeker", "asked")
    assert "customer: a person" in request.summary
    assert "customer: /register_jobseeker" in request.summary


def test_html_rendering_escapes_and_plain_does_not(processor: TurnProcessor) -> None:
    plain = processor.start_conversation(CHANNEL, "alice", language="en")
    html = processor.process(CHANNEL, "bob", "/start", html=True)
    assert [m.template for m in html.messages] == templates(plain)
    assert "<" not in "".join(m.text for m in html.messages).replace("&lt;", "")


# --------------------------------------------------------------------------------------------------
# Shell actions
# --------------------------------------------------------------------------------------------------


def test_the_action_registry_matches_the_engine() -> None:
    assert set(ACTIONS) == set(SHELL_ACTIONS)


def test_list_and_cancel_reminders(processor: TurnProcessor, store: Store, now: datetime) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")
    assert "actions.reminders_none" in templates(processor.process(CHANNEL, "alice", "/list_reminders"))
    version = store.load(CHANNEL, "alice").state.version
    store.save_turn(
        CHANNEL,
        "alice",
        version,
        store.load(CHANNEL, "alice").state,
        effects=[
            ScheduleReminder(
                due=now + timedelta(days=2),
                template="reminders.video_meeting",
                params={"due": "2025-03-06T14:00"},
                kind="video_meeting",
            )
        ],
        now=now,
    )
    listed = processor.process(CHANNEL, "alice", "/list_reminders")
    assert "actions.reminders_list" in templates(listed)
    text = next(m.text for m in listed.messages if m.template == "actions.reminders_list")
    assert "Thu 6 March 2025" in text  # due, in Helsinki time
    assert "video meeting" in text.lower()  # the topic's title

    processor.process(CHANNEL, "alice", "/cancel_reminder")
    cancelled = processor.process(CHANNEL, "alice", "/affirm")
    assert "actions.reminders_cancelled" in templates(cancelled)
    user = store.user(CHANNEL, "alice")
    assert user is not None and store.reminders(user.id) == ()


def test_action_replies_come_before_the_closing_question(processor: TurnProcessor) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")
    result = processor.process(CHANNEL, "alice", "/list_reminders")
    names = templates(result)
    assert names.index("actions.reminders_none") < len(names)
    if "common.anything_else" in names:
        assert names.index("actions.reminders_none") < names.index("common.anything_else")


def test_subscribe_and_unsubscribe(processor: TurnProcessor, store: Store) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")
    assert "actions.subscribed" in templates(processor.process(CHANNEL, "alice", "/subscribe_bulletins"))
    user = store.user(CHANNEL, "alice")
    assert user is not None and store.subscribed(user.id)
    assert "actions.unsubscribed" in templates(processor.process(CHANNEL, "alice", "/unsubscribe_bulletins"))
    assert not store.subscribed(user.id)


def test_forget_me_deletes_the_conversation(processor: TurnProcessor, store: Store) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")
    processor.process(CHANNEL, "alice", "my number is 040 1234567")
    processor.process(CHANNEL, "alice", "/forget_me")
    result = processor.process(CHANNEL, "alice", "/affirm")
    assert "actions.forgotten" in templates(result)
    assert result.state is None
    assert transcript(store) == ()
    assert store.load(CHANNEL, "alice").state == State()
    # The next message starts a fresh conversation.
    assert processor.process(CHANNEL, "alice", "hello").state is not None


# --------------------------------------------------------------------------------------------------
# Bad input: a clear answer, no crash, nothing stored lost
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n", "\x00\x01\x07\x1b", "\u202e\u2066"])
def test_empty_messages_are_answered_and_not_stored(
    processor: TurnProcessor, store: Store, interpreter: ScriptedInterpreter, text: str
) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")
    before = store.load(CHANNEL, "alice").state
    result = processor.process(CHANNEL, "alice", text)
    assert templates(result) == ["common.empty_message"]
    assert result.language == "en" and result.state is None
    assert store.load(CHANNEL, "alice").state == before
    assert len(transcript(store)) == 3
    assert interpreter.calls == []


def test_a_100_kb_message_is_refused_unread(
    processor: TurnProcessor, store: Store, interpreter: ScriptedInterpreter
) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")
    before = store.load(CHANNEL, "alice").state
    result = processor.process(CHANNEL, "alice", "a" * 100_000)
    assert templates(result) == ["common.too_long"]
    assert "4000" in result.messages[0].text or "4 000" in result.messages[0].text
    assert store.load(CHANNEL, "alice").state == before
    assert interpreter.calls == []
    assert max(len(e.text) for e in transcript(store)) < 4000


def test_a_first_message_that_is_refused_creates_no_user(processor: TurnProcessor, store: Store) -> None:
    assert templates(processor.process(CHANNEL, "ghost", " ")) == ["common.empty_message"]
    assert store.user(CHANNEL, "ghost") is None


def test_control_characters_are_stripped_before_the_nlu(
    processor: TurnProcessor, store: Store, interpreter: ScriptedInterpreter
) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")
    processor.process(CHANNEL, "alice", "he\x00l\x1b[31mlo\r\nthere\u202e")
    assert interpreter.calls[-1][0] == "hel[31mlo\nthere"
    assert transcript(store)[3].text == "hel[31mlo\nthere"


@pytest.mark.parametrize("text", ["😀👍🏽", "👨‍👩‍👧", "🇫🇮", "???", "…", "١٢٣"])
def test_emoji_and_symbols_get_an_answer(processor: TurnProcessor, store: Store, text: str) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")
    result = processor.process(CHANNEL, "alice", text)
    assert result.messages and result.state is not None
    assert transcript(store)[3].text == text


def test_clean_text_keeps_newlines_and_emoji() -> None:
    assert clean_text("a\r\nb\rc\td") == "a\nb\nc d"
    assert clean_text("👨‍👩‍👧 ok") == "👨‍👩‍👧 ok"  # zero-width joiners are not control characters
    assert clean_text("x\udcff\x7fy") == "xy"


def test_a_database_that_is_down_loses_nothing(
    content: Content, renderer: Renderer, interpreter: ScriptedInterpreter, now: datetime
) -> None:
    down = Store("postgresql+psycopg://opastin@127.0.0.1:1/opastin")
    processor = TurnProcessor(
        content=content, renderer=renderer, store=down, interpreter=interpreter, clock=lambda: now
    )
    result = processor.process(CHANNEL, "alice", "hello")
    assert templates(result) == ["common.error_try_again"]
    assert result.state is None
    assert templates(processor.start_conversation(CHANNEL, "alice")) == ["common.error_try_again"]
    down.close()


def test_a_database_locked_mid_turn_rolls_back_and_the_retry_works(
    content: Content, renderer: Renderer, interpreter: ScriptedInterpreter, now: datetime, tmp_path: Path
) -> None:
    import sqlite3

    path = tmp_path / "locked.sqlite3"
    store = Store.open(f"sqlite:///{path}", busy_timeout=0.1)
    processor = TurnProcessor(
        content=content, renderer=renderer, store=store, interpreter=interpreter, clock=lambda: now
    )
    processor.start_conversation(CHANNEL, "alice", language="en")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert templates(processor.process(CHANNEL, "alice", "/register_jobseeker")) == ["common.error_try_again"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.load(CHANNEL, "alice").state.version == 1
    assert templates(processor.process(CHANNEL, "alice", "/register_jobseeker"))[0].startswith("register_jobseeker.")
    store.close()


def test_a_turn_that_loses_a_race_is_recomputed_on_the_newer_state(
    processor: TurnProcessor, store: Store, interpreter: ScriptedInterpreter, now: datetime
) -> None:
    processor.start_conversation(CHANNEL, "alice", language="en")

    def another_worker_answers_first() -> None:
        conversation = store.load(CHANNEL, "alice")
        store.save_turn(
            CHANNEL,
            "alice",
            conversation.state.version,
            conversation.state,
            (TranscriptEntry(direction="in", text="elsewhere"),),
            now=now,
        )

    interpreter.during_parse.append(another_worker_answers_first)
    result = processor.process(CHANNEL, "alice", "/register_jobseeker")
    assert templates(result)[-1] == "register_jobseeker.ask_citizenship"
    assert [c[0] for c in interpreter.calls] == ["/register_jobseeker", "/register_jobseeker"]
    assert store.load(CHANNEL, "alice").state.version == 3
    assert [e.text for e in transcript(store) if e.direction == "in"] == ["/start", "elsewhere", "/register_jobseeker"]


# --------------------------------------------------------------------------------------------------
# The async face
# --------------------------------------------------------------------------------------------------


def test_turns_of_one_conversation_run_one_at_a_time(
    processor: TurnProcessor, interpreter: ScriptedInterpreter, store: Store
) -> None:
    inside = 0
    overlap: list[int] = []
    guard = threading.Lock()

    def enter() -> None:
        nonlocal inside
        with guard:
            inside += 1
            overlap.append(inside)
        threading.Event().wait(0.02)
        with guard:
            inside -= 1

    async def scenario() -> tuple[list[TurnResult], int]:
        turns = Turns(processor)
        await turns.start(CHANNEL, "alice", language="en")
        interpreter.during_parse.extend([enter] * 6)
        results = await asyncio.gather(*(turns.handle(CHANNEL, "alice", f"message {i}") for i in range(6)))
        return list(results), turns.active_keys

    results, active = asyncio.run(scenario())
    assert max(overlap) == 1
    assert active == 0  # no lock left behind
    assert all(r.state is not None for r in results)
    assert store.load(CHANNEL, "alice").state.version == 7


def test_turns_of_different_conversations_overlap(processor: TurnProcessor, interpreter: ScriptedInterpreter) -> None:
    both_inside = threading.Barrier(2, timeout=5)
    interpreter.during_parse.extend([both_inside.wait, both_inside.wait])

    async def scenario() -> None:
        turns = Turns(processor)
        await asyncio.gather(turns.handle(CHANNEL, "alice", "hi"), turns.handle(CHANNEL, "bob", "hi"))

    asyncio.run(scenario())  # would raise BrokenBarrierError if they ran one after the other


# --------------------------------------------------------------------------------------------------
# Wiring from settings (the real NLU)
# --------------------------------------------------------------------------------------------------


def test_from_settings_builds_a_working_processor(settings: Settings, nlu_model: object) -> None:
    processor = TurnProcessor.from_settings(settings)
    try:
        processor.start_conversation(CHANNEL, "alice", language="en")
        result = processor.process(CHANNEL, "alice", "I want to register as a jobseeker")
        assert templates(result)[-1] == "register_jobseeker.ask_citizenship"
        assert transcript(processor.store)[3].intent == "register_jobseeker"
    finally:
        processor.close()


def test_the_rasa_backend_falls_back_to_the_builtin_model(environ: dict[str, str], nlu_model: object) -> None:
    settings = load_settings(
        environ={**environ, "OPASTIN_NLU_BACKEND": "rasa", "OPASTIN_NLU_RASA_URL": "http://127.0.0.1:1"}
    )
    interpreter = build_interpreter(settings)
    assert isinstance(interpreter, RasaInterpreter)
    assert interpreter.parse("I want to register as a jobseeker", lang_hint="en").intent == "register_jobseeker"
