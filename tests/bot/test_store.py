"""bot/store.py on SQLite (a file) and on the real PostgreSQL server at 127.0.0.1.

PostgreSQL gets a uniquely named database for the test session, dropped at the end; the tests skip
(with the reason) only when the server cannot be reached.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from bot.errors import ConflictError, StoreUnavailableError
from bot.store import Store, TranscriptEntry, metadata
from flows.model import Frame, Handoff, RunAction, ScheduleReminder, State

PG_ADMIN_URL = os.environ.get("OPASTIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
"""A database on the server to create the test session's own database from."""
TABLES = ("bulletin_subscriptions", "reminders", "handoffs", "turns", "conversations", "users")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the local server for this session; dropped afterwards."""
    admin_url = make_url(PG_ADMIN_URL)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"opastin_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:  # the server is not there: skip, saying why
        admin.dispose()
        pytest.skip(f"PostgreSQL at {admin_url.render_as_string()} is not reachable: {type(exc.orig).__name__}")
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same tests on both backends."""
    if request.param == "sqlite":
        store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        yield store
        store.close()
        return
    url = request.getfixturevalue("postgres_url")
    store = Store.open(url)
    yield store
    store.close()
    cleanup = create_engine(url)
    with cleanup.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    cleanup.dispose()


def in_flow(**changes: object) -> State:
    state = State(language="en", stack=(Frame(flow="register_jobseeker", step="citizenship", waiting=True),))
    return replace(state, **changes)  # type: ignore[arg-type]


def said(text: str, template: str = "common.greet") -> tuple[TranscriptEntry, ...]:
    return (
        TranscriptEntry(direction="in", text=text, intent="greet", confidence=0.9),
        TranscriptEntry(direction="out", text="Hello!", template=template),
    )


# --------------------------------------------------------------------------------------------------


def test_schema_is_at_the_newest_migration_and_matches_the_models(db: Store) -> None:
    assert db.current_revision() == "0001"
    db.upgrade()  # again: a no-op
    engine = create_engine(db.url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    engine.dispose()
    assert differences == []


def test_a_new_customer_loads_a_fresh_state_and_nothing_is_written(db: Store) -> None:
    conversation = db.load("terminal", "alice")
    assert conversation.user is None
    assert conversation.state == State()
    assert db.user("terminal", "alice") is None


def test_a_saved_turn_loads_back(db: Store, now: datetime) -> None:
    state = in_flow(slots={"citizenship": "eu", "n": 3})
    stored = db.save_turn("terminal", "alice", 0, state, said("hi"), now=now)
    assert stored.version == 1
    conversation = db.load("terminal", "alice")
    assert conversation.state == replace(state, version=1)
    assert conversation.user is not None and conversation.user.language == "en"
    assert conversation.user.role == "customer"
    again = db.save_turn("terminal", "alice", 1, replace(state, language="sv"), now=now)
    assert again.version == 2
    assert db.load("terminal", "alice").state.language == "sv"


def test_users_are_per_channel(db: Store, now: datetime) -> None:
    db.save_turn("terminal", "42", 0, in_flow(), now=now)
    assert db.load("telegram", "42").user is None
    db.save_turn("telegram", "42", 0, State(language="fi"), now=now)
    assert db.load("terminal", "42").state.language == "en"
    assert db.load("telegram", "42").state.language == "fi"


def test_transcript_is_redacted_before_it_is_written(db: Store, now: datetime, tmp_path: Path) -> None:
    message = "my id is 131052-308T, phone 040 123 4567, mail Matti.Meikalainen@example.fi"
    db.save_turn("terminal", "alice", 0, in_flow(), said(message), now=now)
    user = db.user("terminal", "alice")
    assert user is not None
    incoming, outgoing = db.transcript(user.id)
    assert incoming.direction == "in" and outgoing.direction == "out"
    assert "131052-308T" not in incoming.text
    assert "4567" not in incoming.text
    assert "example.fi" not in incoming.text
    assert "[HETU]" in incoming.text and "[PHONE]" in incoming.text and "[EMAIL]" in incoming.text
    assert (incoming.intent, incoming.confidence) == ("greet", 0.9)
    assert outgoing.template == "common.greet"
    assert incoming.at == now.astimezone(UTC)
    if db.url.startswith("sqlite"):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.sqlite3*"))
        assert b"131052-308T" not in raw and b"123 4567" not in raw


def test_a_turn_computed_on_an_old_version_is_refused_whole(db: Store, now: datetime) -> None:
    db.save_turn("terminal", "alice", 0, in_flow(), said("one"), now=now)
    db.save_turn("terminal", "alice", 1, in_flow(slots={"a": 1}), said("two"), now=now)
    with pytest.raises(ConflictError):
        db.save_turn(
            "terminal", "alice", 1, in_flow(slots={"b": 2}), said("late"), [Handoff(topic="x", reason="asked")], now=now
        )
    user = db.user("terminal", "alice")
    assert user is not None
    assert db.load("terminal", "alice").state.slots == {"a": 1}
    assert [e.text for e in db.transcript(user.id) if e.direction == "in"] == ["one", "two"]
    assert db.handoffs() == ()


def test_two_first_turns_of_a_new_customer_conflict(db: Store, now: datetime) -> None:
    db.save_turn("terminal", "bob", 0, in_flow(), now=now)
    with pytest.raises(ConflictError):
        db.save_turn("terminal", "bob", 0, State(), now=now)


def test_a_turn_that_fails_midway_leaves_the_previous_state(db: Store, now: datetime) -> None:
    db.save_turn("terminal", "alice", 0, in_flow(slots={"a": 1}), said("one"), now=now)
    with pytest.raises(RuntimeError), db.turn("terminal", "alice", 1, now=now) as writer:
        writer.record(
            state=in_flow(slots={"a": 2}), transcript=said("two"), effects=[Handoff(topic="t", reason="asked")]
        )
        writer.cancel_reminders()
        raise RuntimeError("process dies here")
    conversation = db.load("terminal", "alice")
    assert conversation.state.version == 1 and conversation.state.slots == {"a": 1}
    assert conversation.user is not None
    assert len(db.transcript(conversation.user.id)) == 2
    assert db.handoffs() == ()


def test_concurrent_writers_never_lose_a_turn(db: Store, now: datetime) -> None:
    """Threads racing on one conversation: every committed turn counts exactly once."""
    db.save_turn("terminal", "race", 0, State(slots={"n": 0}), now=now)
    committed: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        done = 0
        try:
            while done < 10:
                conversation = db.load("terminal", "race")
                n = conversation.state.slots["n"]
                try:
                    db.save_turn(
                        "terminal",
                        "race",
                        conversation.state.version,
                        replace(conversation.state, slots={"n": n + 1}),
                        (TranscriptEntry(direction="in", text=f"{n}"),),
                        now=now,
                    )
                except ConflictError:
                    continue
                done += 1
            committed.append(done)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    state = db.load("terminal", "race").state
    assert state.slots["n"] == 40 == sum(committed)
    assert state.version == 41
    user = db.user("terminal", "race")
    assert user is not None and len(db.transcript(user.id, limit=1000)) == 40


def test_a_handoff_carries_a_redacted_summary_and_can_be_closed(db: Store, now: datetime) -> None:
    db.save_turn("terminal", "alice", 0, in_flow(), said("hello"), now=now)
    later = now + timedelta(minutes=2)
    db.save_turn(
        "terminal",
        "alice",
        1,
        in_flow(),
        said("call me at 0401234567", "common.handoff_done"),
        [Handoff(topic="register_jobseeker", reason="asked"), RunAction(name="list_reminders")],
        now=later,
    )
    (request,) = db.handoffs()
    assert (request.channel, request.external_id, request.language) == ("terminal", "alice", "en")
    assert (request.topic, request.reason, request.status) == ("register_jobseeker", "asked", "open")
    assert request.at == later.astimezone(UTC)
    lines = request.summary.splitlines()
    assert len(lines) == 4
    assert lines[0].endswith("customer: hello")
    assert lines[2].endswith("customer: call me at [PHONE]")
    assert lines[3].endswith("bot: Hello!")
    assert db.close_handoff(request.id, now=later)
    assert not db.close_handoff(request.id, now=later)
    assert db.handoffs() == ()
    (closed,) = db.handoffs(status=None)
    assert closed.status == "closed" and closed.closed_at == later.astimezone(UTC)


def test_reminders_are_stored_in_utc_listed_and_cancelled(db: Store, now: datetime) -> None:
    soon = now + timedelta(days=1)
    later = now + timedelta(days=7)
    db.save_turn(
        "terminal",
        "alice",
        0,
        in_flow(),
        effects=[
            ScheduleReminder(
                due=later, template="reminders.plan_deadline", params={"due": "2025-03-11"}, kind="plan_deadline"
            ),
            ScheduleReminder(due=soon, template="reminders.other"),
        ],
        now=now,
    )
    user = db.user("terminal", "alice")
    assert user is not None
    first, second = db.reminders(user.id)
    assert first.due == soon and first.due.tzinfo == UTC and first.kind == "custom"
    assert second.template == "reminders.plan_deadline" and second.params == {"due": "2025-03-11"}
    assert second.created_at == now and second.sent_at is None and second.cancelled_at is None
    with db.turn("terminal", "alice", 1, now=now) as writer:
        assert [r.id for r in writer.pending_reminders()] == [first.id, second.id]
        assert writer.cancel_reminders() == 2
        writer.record(state=in_flow())
    assert db.reminders(user.id) == ()
    assert all(r.cancelled_at == now for r in db.reminders(user.id, pending_only=False))


def test_bulletin_subscription(db: Store, now: datetime) -> None:
    db.save_turn("terminal", "alice", 0, in_flow(), now=now)
    user = db.user("terminal", "alice")
    assert user is not None and not db.subscribed(user.id)
    for version, wanted in ((1, True), (2, False), (3, True)):
        with db.turn("terminal", "alice", version, now=now) as writer:
            writer.set_subscribed(wanted)
            writer.record(state=in_flow())
        assert db.subscribed(user.id) is wanted


def test_forget_deletes_everything_about_the_user_only(db: Store, now: datetime) -> None:
    for who in ("alice", "bob"):
        db.save_turn(
            "terminal",
            who,
            0,
            in_flow(slots={"x": who}),
            said(f"I am {who}"),
            [Handoff(topic="t", reason="asked"), ScheduleReminder(due=now, template="reminders.other")],
            now=now,
        )
    alice = db.user("terminal", "alice")
    assert alice is not None
    with db.turn("terminal", "alice", 1, now=now) as writer:
        writer.set_subscribed(True)
        writer.record(state=in_flow())
    assert db.forget_user("terminal", "alice")
    assert db.transcript(alice.id) == ()
    assert db.reminders(alice.id, pending_only=False) == ()
    assert not db.subscribed(alice.id)
    assert [h.external_id for h in db.handoffs()] == ["bob"]
    fresh = db.load("terminal", "alice").state
    assert fresh == State()  # the language choice is personal data too
    assert db.load("terminal", "bob").state.slots == {"x": "bob"}
    assert not db.forget_user("terminal", "nobody")
    db.save_turn("terminal", "alice", 0, in_flow(), now=now)  # starts over at version 0


def test_forget_inside_a_turn_writes_nothing_of_that_turn(db: Store, now: datetime) -> None:
    db.save_turn("terminal", "alice", 0, in_flow(), said("hello"), now=now)
    with db.turn("terminal", "alice", 1, now=now) as writer:
        writer.forget()
        writer.record(
            state=in_flow(slots={"late": True}),
            transcript=said("forget me"),
            effects=[Handoff(topic="t", reason="asked")],
        )
    user = db.user("terminal", "alice")
    assert user is not None
    assert db.transcript(user.id) == ()
    assert db.handoffs() == ()
    assert db.load("terminal", "alice").state.version == 0


def test_roles(db: Store, now: datetime) -> None:
    db.save_turn("terminal", "anna", 0, State(), now=now)
    assert db.set_role("terminal", "anna", "staff")
    user = db.user("terminal", "anna")
    assert user is not None and user.role == "staff"
    assert not db.set_role("terminal", "nobody", "staff")
    with pytest.raises(ValueError, match="role must be one of"):
        db.set_role("terminal", "anna", "admin")


def test_an_unreadable_state_starts_over_without_a_conflict(db: Store, now: datetime) -> None:
    db.save_turn("terminal", "alice", 0, in_flow(), now=now)
    engine = create_engine(db.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE conversations SET state = '{\"v\": 99}'"))
    engine.dispose()
    state = db.load("terminal", "alice").state
    assert state == State(language="en", version=1)
    assert db.save_turn("terminal", "alice", 1, state, now=now).version == 2


def test_naive_datetimes_are_refused(db: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        db.save_turn("terminal", "alice", 0, State(), now=datetime(2025, 3, 4, 10, 0))


# --------------------------------------------------------------------------------------------------
# SQLite specifics and an unreachable database
# --------------------------------------------------------------------------------------------------


def test_sqlite_runs_in_wal_mode_and_creates_its_folder(tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "deep" / "er" / "opastin.sqlite3"
    store = Store.open(f"sqlite:///{path}")
    store.save_turn("terminal", "alice", 0, State(), now=now)
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_writer_waits_for_another_and_then_gives_up_as_unavailable(tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "locked.sqlite3"
    store = Store.open(f"sqlite:///{path}", busy_timeout=0.2)
    store.save_turn("terminal", "alice", 0, State(), now=now)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert store.load("terminal", "alice").state.version == 1  # readers are not blocked (WAL)
        with pytest.raises(StoreUnavailableError, match="OperationalError: database is locked"):
            store.save_turn("terminal", "alice", 1, State(), now=now)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.save_turn("terminal", "alice", 1, State(), now=now).version == 2
    store.close()


def test_an_unreachable_server_is_unavailable_not_a_crash() -> None:
    store = Store("postgresql+psycopg://opastin:secret-pw@127.0.0.1:1/opastin")
    with pytest.raises(StoreUnavailableError) as caught:
        store.load("terminal", "alice")
    assert "secret-pw" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)
    with pytest.raises(StoreUnavailableError):
        store.upgrade()
    store.close()


def test_an_unopenable_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}")  # a folder, not a file
    with pytest.raises(StoreUnavailableError, match="unable to open database file"):
        store.upgrade()
    store.close()
