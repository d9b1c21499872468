"""The database: users, conversation state, the redacted transcript, handoffs, reminders, subscriptions.

``Store`` takes and returns ``flows`` dataclasses and the small records below; the ORM classes never
leave this module. The sync SQLAlchemy 2 ORM is used on purpose (style.md §6): async code calls the
store through ``asyncio.to_thread``.

Invariants:

- A turn is one transaction (``Store.turn``). It first *claims* the conversation: it bumps
  ``conversations.version`` from the version the turn was computed on, or raises ``ConflictError``
  when someone else got there first. Everything the turn writes (state, transcript, handoffs,
  reminders, what an action did) commits together or not at all, so a process killed mid-turn
  leaves the previous turn's state.
- Transcript text is redacted (``nlu.pii.redact``) here, on the way in, whatever the caller did.
- SQLite runs in WAL mode with a busy timeout and foreign keys on; write transactions start with
  ``BEGIN IMMEDIATE`` so that two writers queue instead of failing on a lock upgrade.
- Driver errors that mean "the database is not there" become ``StoreUnavailableError``; SQL
  parameters (user text) are never put into exception messages (``hide_parameters``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, cast

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, CursorResult, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from bot.errors import ConflictError, StoreUnavailableError
from bot.settings import mask_url
from flows.model import Effect, Handoff, ScheduleReminder, State
from nlu.pii import redact

log = logging.getLogger(__name__)

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
SUMMARY_TURNS: Final = 12
"""How many of the latest transcript lines a handoff request carries for staff."""
BUSY_TIMEOUT_S: Final = 5.0
"""How long a SQLite writer waits for another writer before the turn fails as unavailable."""

Direction = Literal["in", "out"]
Role = Literal["customer", "staff", "coordinator"]
ROLES: Final = ("customer", "staff", "coordinator")


# --------------------------------------------------------------------------------------------------
# Records handed out by the store
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A person on one channel (a Telegram chat, a web session, a terminal user name)."""

    id: int
    channel: str
    external_id: str
    """The channel's own id for the person; unique per channel."""
    language: str | None
    role: str = "customer"
    """``customer``, ``staff`` or ``coordinator`` (staff features come in later issues)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    """What a turn starts from. ``user`` is None for someone never seen before."""

    channel: str
    external_id: str
    user: User | None
    state: State


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptEntry:
    """One line of the transcript: a message in or out."""

    direction: Direction
    text: str
    """Redacted by the store before it is written."""
    intent: str | None = None
    confidence: float | None = None
    template: str | None = None
    """For messages out: the template key, which survives copy edits."""
    at: datetime | None = None
    """Set by the store (the turn's ``now``) when None."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffRecord:
    """A request for a person, as staff see it."""

    id: int
    user_id: int
    channel: str
    external_id: str
    language: str | None
    at: datetime
    topic: str
    reason: str
    summary: str
    """The latest redacted transcript lines, oldest first, one per line."""
    status: str
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderRecord:
    id: int
    user_id: int
    due: datetime
    """Aware, in UTC."""
    template: str
    params: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "custom"
    created_at: datetime
    sent_at: datetime | None = None
    cancelled_at: datetime | None = None


# --------------------------------------------------------------------------------------------------
# ORM (private)
# --------------------------------------------------------------------------------------------------


class _UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zones, so values are stored there as naive UTC; their ISO text sorts in time
    order, which keeps ``due <= now`` comparisons right.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Base(DeclarativeBase):
    type_annotation_map = {datetime: _UTCDateTime()}  # noqa: RUF012 (SQLAlchemy reads a class attribute)


class _UserRow(_Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_users_channel_external_id"),
        CheckConstraint("role IN ('customer', 'staff', 'coordinator')", name="ck_users_role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16), default="customer")
    created_at: Mapped[datetime]


class _ConversationRow(_Base):
    __tablename__ = "conversations"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    updated_at: Mapped[datetime]


class _TurnRow(_Base):
    __tablename__ = "turns"
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="ck_turns_direction"),
        Index("ix_turns_user_id_id", "user_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    direction: Mapped[str] = mapped_column(String(3))
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    template: Mapped[str | None] = mapped_column(String(128))


class _HandoffRow(_Base):
    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="ck_handoffs_status"),
        Index("ix_handoffs_status_at", "status", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="open")
    closed_at: Mapped[datetime | None]


class _ReminderRow(_Base):
    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_due", "due"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    due: Mapped[datetime]
    template: Mapped[str] = mapped_column(String(128))
    params: Mapped[str] = mapped_column(Text, default="{}")
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]


class _SubscriptionRow(_Base):
    __tablename__ = "bulletin_subscriptions"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]


metadata: Final = _Base.metadata
"""For Alembic's ``env.py`` only."""

# The per-turn statements go through these Core tables: a turn's half-dozen statements cost a
# fraction of the ORM unit of work (see bench/turn_bench.py). The ORM classes above define them.
_users: Final = cast(Table, _UserRow.__table__)
_conversations: Final = cast(Table, _ConversationRow.__table__)
_turns: Final = cast(Table, _TurnRow.__table__)
_handoffs: Final = cast(Table, _HandoffRow.__table__)
_reminders_table: Final = cast(Table, _ReminderRow.__table__)
_subscriptions: Final = cast(Table, _SubscriptionRow.__table__)

# The per-turn statements are built once and reused with bound parameters: SQLAlchemy memoizes a
# statement object's cache key, so a reused statement skips construction, cache-key generation and
# compilation, which were most of a turn's CPU (bench/turn_bench.py). Bound-parameter names differ
# from column names, which SQLAlchemy reserves for the VALUES/SET clauses.
_LOAD: Final = (
    select(_users.c.id, _users.c.language, _users.c.role, _conversations.c.state, _conversations.c.version)
    .select_from(_users.outerjoin(_conversations, _conversations.c.user_id == _users.c.id))
    .where(_users.c.channel == bindparam("p_channel"), _users.c.external_id == bindparam("p_external_id"))
)
_FIND_USER: Final = select(_users.c.id, _users.c.language, _users.c.role).where(
    _users.c.channel == bindparam("p_channel"), _users.c.external_id == bindparam("p_external_id")
)
_INSERT_USER: Final = insert(_users)
_INSERT_CONVERSATION: Final = insert(_conversations)
_CLAIM: Final = (
    update(_conversations)
    .where(_conversations.c.user_id == bindparam("p_user_id"), _conversations.c.version == bindparam("p_expected"))
    .values(version=bindparam("p_version"), updated_at=bindparam("p_now"))
)
_SAVE_STATE: Final = (
    update(_conversations)
    .where(_conversations.c.user_id == bindparam("p_user_id"))
    .values(state=bindparam("p_state"), updated_at=bindparam("p_now"))
)
_SET_LANGUAGE: Final = (
    update(_users).where(_users.c.id == bindparam("p_user_id")).values(language=bindparam("p_language"))
)
_INSERT_TURNS: Final = insert(_turns)
_INSERT_HANDOFF: Final = insert(_handoffs)
_INSERT_REMINDER: Final = insert(_reminders_table)
_MAY_HOLD_PII: Final = re.compile(r"[\d@]")
"""What every pattern of ``nlu.pii.redact`` needs (an identity code or phone number has a digit,
an e-mail address an '@'): text without it is its own redaction, and template texts seldom have it."""


# --------------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------------


class Store:
    """All database access of Opastin. Thread-safe: each call uses its own session."""

    def __init__(self, url: str, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.url = url
        self._engine = _make_engine(url, busy_timeout)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._write_engine = self._engine.execution_options(opastin_write=True)
        self._writes = sessionmaker(self._write_engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = BUSY_TIMEOUT_S) -> Store:
        """A store whose schema is created or upgraded to the newest migration."""
        store = cls(url, busy_timeout=busy_timeout)
        try:
            store.upgrade()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"Store({mask_url(self.url)!r})"

    # -- schema -------------------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` (idempotent; cheap when already there)."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self._unavailable_as_error(), self._engine.execution_options(opastin_write=True).begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    def current_revision(self) -> str | None:
        with self._unavailable_as_error(), self._engine.connect() as conn:
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(conn).get_current_revision()

    # -- a turn -------------------------------------------------------------------------------------

    def load(self, channel: str, external_id: str) -> Conversation:
        """The conversation to compute the next turn on; writes nothing (not even a new user)."""
        with self._unavailable_as_error(), self._engine.connect() as conn:
            row = conn.execute(_LOAD, {"p_channel": channel, "p_external_id": external_id}).first()
        if row is None:
            return Conversation(channel=channel, external_id=external_id, user=None, state=State())
        user = User(id=row.id, channel=channel, external_id=external_id, language=row.language, role=row.role)
        state = _state(row.state, row.version, user)
        return Conversation(channel=channel, external_id=external_id, user=user, state=state)

    @contextmanager
    def turn(
        self,
        channel: str,
        external_id: str,
        expected_version: int,
        *,
        now: datetime,
        user: User | None = None,
    ) -> Iterator[TurnWriter]:
        """One transaction for one turn, claimed at ``expected_version``.

        Everything written through the ``TurnWriter`` commits when the block ends and is rolled
        back if it raises. ``user`` (from ``load``) saves looking the user up again.

        Raises:
            ConflictError: the conversation is no longer at ``expected_version``.
            StoreUnavailableError: the database cannot be reached.
        """
        # A Core connection, not an ORM session: the turn's writes are plain statements, and the
        # session's bookkeeping cost more than they did.
        with self._unavailable_as_error(), self._write_engine.begin() as conn:
            claimed = _claim(conn, channel, external_id, expected_version, now, user)
            yield TurnWriter(conn, claimed, expected_version + 1, now)

    def save_turn(
        self,
        channel: str,
        external_id: str,
        expected_version: int,
        state: State,
        transcript: Sequence[TranscriptEntry] = (),
        effects: Sequence[Effect] = (),
        *,
        now: datetime,
    ) -> State:
        """Store a turn computed on ``expected_version`` atomically; returns the stored state."""
        with self.turn(channel, external_id, expected_version, now=now) as writer:
            return writer.record(state=state, transcript=transcript, effects=effects)

    # -- reading and housekeeping -------------------------------------------------------------------

    def user(self, channel: str, external_id: str) -> User | None:
        with self._unavailable_as_error(), self._sessions() as session:
            row = session.scalar(_user_query(channel, external_id))
            return _user(row) if row is not None else None

    def transcript(self, user_id: int, *, limit: int = 100) -> tuple[TranscriptEntry, ...]:
        """The latest ``limit`` transcript lines of a user, oldest first."""
        with self._unavailable_as_error(), self._engine.connect() as conn:
            return _latest_turns(conn, user_id, limit)

    def handoffs(self, *, status: str | None = "open") -> tuple[HandoffRecord, ...]:
        """Handoff requests, oldest first; ``status=None`` lists all."""
        query = select(_HandoffRow, _UserRow).join(_UserRow, _HandoffRow.user_id == _UserRow.id)
        if status is not None:
            query = query.where(_HandoffRow.status == status)
        with self._unavailable_as_error(), self._sessions() as session:
            rows = session.execute(query.order_by(_HandoffRow.at, _HandoffRow.id)).all()
            return tuple(_handoff(h, u) for h, u in rows)

    def close_handoff(self, handoff_id: int, *, now: datetime) -> bool:
        """Mark a request as dealt with; False if there is no open request with that id."""
        with self._unavailable_as_error(), self._writes.begin() as session:
            result = session.execute(
                update(_HandoffRow)
                .where(_HandoffRow.id == handoff_id, _HandoffRow.status == "open")
                .values(status="closed", closed_at=now)
            )
            return _rowcount(result) == 1

    def reminders(self, user_id: int, *, pending_only: bool = True) -> tuple[ReminderRecord, ...]:
        with self._unavailable_as_error(), self._engine.connect() as conn:
            return _reminders(conn, user_id, pending_only=pending_only)

    def subscribed(self, user_id: int) -> bool:
        with self._unavailable_as_error(), self._sessions() as session:
            row = session.get(_SubscriptionRow, user_id)
            return bool(row and row.subscribed)

    def set_role(self, channel: str, external_id: str, role: str) -> bool:
        """Make a known user customer, staff or coordinator; False if the user is unknown."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self._unavailable_as_error(), self._writes.begin() as session:
            result = session.execute(
                update(_UserRow)
                .where(_UserRow.channel == channel, _UserRow.external_id == external_id)
                .values(role=role)
            )
            return _rowcount(result) == 1

    def forget_user(self, channel: str, external_id: str) -> bool:
        """Delete everything stored about a user (language choice included) but the bare account row;
        False if the user is unknown."""
        with self._unavailable_as_error(), self._writes.begin() as session:
            row = session.scalar(_user_query(channel, external_id))
            if row is None:
                return False
            _forget(session.connection(), row.id)
            return True

    # -- internals ----------------------------------------------------------------------------------

    @contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        """Map "the database is not there" to ``StoreUnavailableError``; let real bugs through."""
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailableError(_describe(exc, self.url)) from None
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreUnavailableError(_describe(exc, self.url)) from None
            raise


class TurnWriter:
    """The writes of one turn, inside the transaction opened by ``Store.turn``.

    Shell actions get this object so that what they do (cancel reminders, forget the user) commits
    with the turn's state or not at all.
    """

    def __init__(self, conn: Connection, user: User, version: int, now: datetime) -> None:
        self._conn = conn
        self.user = user
        self.version = version
        """The version the state gets when this turn commits."""
        self.now = now
        self.forgotten = False
        """Set by ``forget``: the turn's state and transcript are then not written."""

    def record(
        self,
        *,
        state: State,
        transcript: Sequence[TranscriptEntry] = (),
        effects: Sequence[Effect] = (),
    ) -> State:
        """Write the new state, the transcript lines and the effects the store performs.

        ``Handoff`` becomes a handoff request with a transcript summary; ``ScheduleReminder`` a
        reminder row; ``RunAction`` is the caller's business (``bot.actions``). After ``forget``
        nothing is written: the customer asked for their data to go.
        """
        stored = replace(state, version=self.version)
        if self.forgotten:
            return stored
        self._conn.execute(_SAVE_STATE, {"p_user_id": self.user.id, "p_state": stored.to_json(), "p_now": self.now})
        if state.language != self.user.language:
            self._conn.execute(_SET_LANGUAGE, {"p_user_id": self.user.id, "p_language": state.language})
        self.add_transcript(transcript)
        for effect in effects:
            if isinstance(effect, Handoff):
                self.add_handoff(effect)
            elif isinstance(effect, ScheduleReminder):
                self.add_reminder(effect)
        return stored

    def add_transcript(self, entries: Sequence[TranscriptEntry]) -> None:
        if self.forgotten or not entries:
            return
        self._conn.execute(
            _INSERT_TURNS,
            [
                {
                    "user_id": self.user.id,
                    "at": entry.at or self.now,
                    "direction": entry.direction,
                    "text": redact(entry.text) if _MAY_HOLD_PII.search(entry.text) else entry.text,
                    "intent": entry.intent,
                    "confidence": entry.confidence,
                    "template": entry.template,
                }
                for entry in entries
            ],
        )

    def add_handoff(self, handoff: Handoff) -> int:
        summary = "\n".join(_summary_line(e) for e in _latest_turns(self._conn, self.user.id, SUMMARY_TURNS))
        result = self._conn.execute(
            _INSERT_HANDOFF,
            {
                "user_id": self.user.id,
                "at": self.now,
                "topic": handoff.topic,
                "reason": handoff.reason,
                "summary": summary,
                "status": "open",
            },
        )
        handoff_id = _new_id(result)
        log.info(
            "handoff %s recorded for user %s (topic %s, reason %s)",
            handoff_id,
            self.user.id,
            handoff.topic,
            handoff.reason,
        )
        return handoff_id

    def add_reminder(self, reminder: ScheduleReminder) -> int:
        result = self._conn.execute(
            _INSERT_REMINDER,
            {
                "user_id": self.user.id,
                "due": reminder.due,
                "template": reminder.template,
                "params": json.dumps(dict(reminder.params), ensure_ascii=False, default=str),
                "kind": reminder.kind,
                "created_at": self.now,
            },
        )
        return _new_id(result)

    def pending_reminders(self) -> tuple[ReminderRecord, ...]:
        """Reminders not yet sent nor cancelled, soonest first."""
        return _reminders(self._conn, self.user.id, pending_only=True)

    def cancel_reminders(self) -> int:
        """Cancel every pending reminder; returns how many."""
        result = self._conn.execute(
            update(_reminders_table)
            .where(
                _reminders_table.c.user_id == self.user.id,
                _reminders_table.c.sent_at.is_(None),
                _reminders_table.c.cancelled_at.is_(None),
            )
            .values(cancelled_at=self.now)
        )
        return _rowcount(result)

    def set_subscribed(self, subscribed: bool) -> None:
        # The turn holds the conversation's claim, so nobody else writes this user's row meanwhile.
        result = self._conn.execute(
            update(_subscriptions)
            .where(_subscriptions.c.user_id == self.user.id)
            .values(subscribed=subscribed, at=self.now)
        )
        if _rowcount(result) == 0:
            self._conn.execute(insert(_subscriptions).values(user_id=self.user.id, subscribed=subscribed, at=self.now))

    def forget(self) -> None:
        """Delete the user's transcript, handoffs, reminders, subscription and state, at commit."""
        _forget(self._conn, self.user.id)
        self.forgotten = True


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _make_engine(url: str, busy_timeout: float) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, hide_parameters=True, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) emit BEGIN itself: pysqlite's own transaction handling begins
        # only before DML, so a read-then-write turn would not be one snapshot.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL survives a killed process (what a turn must survive); a power cut may lose
        # the latest commits but never leaves a half-written one.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that read first cannot wait
        # for a lock upgrade (SQLITE_BUSY at once), an IMMEDIATE one queues for busy_timeout.
        immediate = conn.get_execution_options().get("opastin_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _describe(exc: DBAPIError, url: str) -> str:
    original = exc.orig if exc.orig is not None else exc
    first_line = (str(original).strip().splitlines() or [""])[0]
    return f"database {mask_url(url)} is unavailable: {type(original).__name__}: {first_line}"


def _user_query(channel: str, external_id: str) -> Any:
    return select(_UserRow).where(_UserRow.channel == channel, _UserRow.external_id == external_id)


def _claim(
    conn: Connection, channel: str, external_id: str, expected_version: int, now: datetime, user: User | None
) -> User:
    """Create the user if new and move the conversation from ``expected_version`` to the next."""
    try:
        if user is None:
            row = conn.execute(_FIND_USER, {"p_channel": channel, "p_external_id": external_id}).first()
            if row is None:
                result = conn.execute(
                    _INSERT_USER,
                    {"channel": channel, "external_id": external_id, "role": "customer", "created_at": now},
                )
                user = User(id=_new_id(result), channel=channel, external_id=external_id, language=None)
            else:
                user = User(id=row.id, channel=channel, external_id=external_id, language=row.language, role=row.role)
        if expected_version == 0:
            # No conversation row yet (a new customer, or one who was forgotten): create it. If
            # another worker did so first, the insert fails on the primary key.
            conn.execute(_INSERT_CONVERSATION, {"user_id": user.id, "state": "", "version": 1, "updated_at": now})
        else:
            result = conn.execute(
                _CLAIM,
                {"p_user_id": user.id, "p_expected": expected_version, "p_version": expected_version + 1, "p_now": now},
            )
            if _rowcount(result) != 1:
                raise ConflictError(user.id, expected_version)
    except IntegrityError:
        # Another worker inserted the same user or conversation a moment ago.
        raise ConflictError(user.id if user is not None else None, expected_version) from None
    return user


def _state(text: str | None, version: int | None, user: User) -> State:
    fresh = State(language=user.language) if user.language else State()
    if text is None or version is None:
        return fresh
    try:
        state = State.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        # A state written by an incompatible version: start the conversation over rather than
        # lock the customer out; the version is kept so the next save is not a conflict.
        log.warning("unreadable state of user %s (%s); starting over", user.id, type(exc).__name__)
        return replace(fresh, version=version)
    return replace(state, version=version)


def _forget(conn: Connection, user_id: int) -> None:
    """Everything but the bare account row (channel and id), which the next message needs anyway."""
    for table in (_turns, _handoffs, _reminders_table, _subscriptions, _conversations):
        conn.execute(delete(table).where(table.c.user_id == user_id))
    conn.execute(update(_users).where(_users.c.id == user_id).values(language=None))


def _latest_turns(conn: Connection, user_id: int, limit: int) -> tuple[TranscriptEntry, ...]:
    rows = conn.execute(
        select(_turns).where(_turns.c.user_id == user_id).order_by(_turns.c.id.desc()).limit(limit)
    ).all()
    return tuple(
        TranscriptEntry(
            direction="in" if r.direction == "in" else "out",
            text=r.text,
            intent=r.intent,
            confidence=r.confidence,
            template=r.template,
            at=r.at,
        )
        for r in reversed(rows)
    )


def _summary_line(entry: TranscriptEntry) -> str:
    who = "customer" if entry.direction == "in" else "bot"
    at = entry.at.strftime("%Y-%m-%d %H:%M") if entry.at else ""
    text = " ".join(entry.text.split())
    return f"{at} {who}: {text[:300]}"


def _reminders(conn: Connection, user_id: int, *, pending_only: bool) -> tuple[ReminderRecord, ...]:
    query = select(_reminders_table).where(_reminders_table.c.user_id == user_id)
    if pending_only:
        query = query.where(_reminders_table.c.sent_at.is_(None), _reminders_table.c.cancelled_at.is_(None))
    return tuple(
        ReminderRecord(
            id=r.id,
            user_id=r.user_id,
            due=r.due,
            template=r.template,
            params=json.loads(r.params or "{}"),
            kind=r.kind,
            created_at=r.created_at,
            sent_at=r.sent_at,
            cancelled_at=r.cancelled_at,
        )
        for r in conn.execute(query.order_by(_reminders_table.c.due, _reminders_table.c.id))
    )


def _user(row: _UserRow) -> User:
    return User(id=row.id, channel=row.channel, external_id=row.external_id, language=row.language, role=row.role)


def _handoff(row: _HandoffRow, user: _UserRow) -> HandoffRecord:
    return HandoffRecord(
        id=row.id,
        user_id=row.user_id,
        channel=user.channel,
        external_id=user.external_id,
        language=user.language,
        at=row.at,
        topic=row.topic,
        reason=row.reason,
        summary=row.summary,
        status=row.status,
        closed_at=row.closed_at,
    )


def _new_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an ``INSERT`` just wrote."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


__all__ = [
    "ROLES",
    "Conversation",
    "HandoffRecord",
    "ReminderRecord",
    "Store",
    "TranscriptEntry",
    "TurnWriter",
    "User",
]
