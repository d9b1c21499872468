"""The frozen types of a conversation: content (flows, steps), messages in, replies and effects out.

Everything here is immutable (``frozen=True``, tuples instead of lists) so that the engine can hand
the same objects around without copying and a test can compare whole states. Nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any, Final, Literal

LANGUAGES: Final = ("fi", "sv", "en")
"""The languages every template, flow title and NLU intent exists in. The first is the default."""

Language = Literal["fi", "sv", "en"]

OUT_OF_SCOPE: Final = "out_of_scope"
"""The intent a parse carries when the NLU is not confident enough: the engine's fallback."""

STATE_FORMAT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class SourcePos:
    """Where a piece of content was written, so that every content error can say ``file:line:``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


# --------------------------------------------------------------------------------------------------
# What the NLU hands to the engine
# --------------------------------------------------------------------------------------------------

EntityType = Literal["date", "time", "datetime", "number", "hetu", "phone", "email"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    """One thing recognised in the text, resolved to a canonical value."""

    type: str
    """One of ``EntityType``: date, time, datetime, number, hetu (personal identity code), phone, email."""
    value: str
    """Canonical form: ISO 8601 for date/time/datetime (local time, Europe/Helsinki), digits for number,
    E.164 for phone, lower-case for email, upper-case for hetu."""
    text: str
    """The span as the user wrote it."""
    start: int
    end: int

    def as_date(self) -> date | None:
        if self.type == "date":
            return date.fromisoformat(self.value)
        if self.type == "datetime":
            return datetime.fromisoformat(self.value).date()
        return None

    def as_time(self) -> time | None:
        if self.type == "time":
            return time.fromisoformat(self.value)
        if self.type == "datetime":
            return datetime.fromisoformat(self.value).time()
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentScore:
    name: str
    confidence: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedMessage:
    """One user message as the engine sees it: the text and what the NLU made of it.

    Button presses arrive as text too (``/intent`` or a choice payload ``/c:<ref>:<n>``), the way
    Rasa's channels pass payloads; the NLU turns ``/intent`` into that intent with confidence 1.
    """

    text: str
    """The text as received (already stripped of control characters by the channel)."""
    intent: str = OUT_OF_SCOPE
    confidence: float = 0.0
    ranking: tuple[IntentScore, ...] = ()
    entities: tuple[Entity, ...] = ()
    language: str | None = None
    """The language the NLU believes the message is in, given the conversation's language as a hint;
    ``None`` when it cannot tell (numbers, emoji, one ambiguous word)."""

    def entity(self, *types: str) -> Entity | None:
        """The first entity of one of ``types``."""
        return next((e for e in self.entities if e.type in types), None)


# --------------------------------------------------------------------------------------------------
# What the engine hands back
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Button:
    """A choice offered with a reply; ``payload`` is sent back as the message text when pressed."""

    label: str = ""
    """Template key of the button text."""
    text: str | None = None
    """Literal, already localised button text (a flow title); used instead of ``label``."""
    payload: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A message to send, not yet rendered: a template key plus variables, so tests assert on keys."""

    template: str
    """``<file>.<block>``: the Jinja2 block ``block`` in ``content/templates/<lang>/<file>.j2``."""
    params: Mapping[str, Any] = field(default_factory=dict)
    buttons: tuple[Button, ...] = ()


# Effects: things the shell (bot/turns.py) must do after the new state is committed. The engine
# returns them as data, as h11 returns bytes instead of writing them.


@dataclass(frozen=True, slots=True, kw_only=True)
class Handoff:
    """The customer wants or needs a person. Stored as a handoff request that staff can find."""

    topic: str
    """The flow (or intent) the customer was in when they asked."""
    reason: str
    """``asked`` (the customer asked), ``not_understood`` (fallbacks ran out), ``invalid_input``
    (an answer failed validation twice) or a flow-defined reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleReminder:
    """Remind the customer at ``due`` (aware datetime) with the template ``template``."""

    due: datetime
    template: str
    params: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "custom"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunAction:
    """A named action whose work is I/O (list or cancel reminders, forget the user, subscribe...).

    The shell runs it from its own registry after the turn and may answer with more replies."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    at: int = -1
    """Where the action's own replies belong among the turn's replies (an index into
    ``Outcome.replies``), so that "anything else?" still comes last; -1 appends."""


Effect = Handoff | ScheduleReminder | RunAction


# --------------------------------------------------------------------------------------------------
# Conversation state
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One flow on the stack and the step it is at."""

    flow: str
    step: str
    """The id of the step that runs next or, if ``waiting``, the one whose question is pending."""
    waiting: bool = False
    """True when the step has asked its question and the next message answers it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """Everything the engine remembers about one conversation between two messages.

    Stored as JSON (``to_json``) after each turn; ``version`` counts turns so that two workers
    never both write the turn after the same state.
    """

    language: str = LANGUAGES[0]
    stack: tuple[Frame, ...] = ()
    """Active flows, innermost last: a ``call`` step or a digression pushes a frame."""
    slots: Mapping[str, Any] = field(default_factory=dict)
    """Collected answers, JSON-compatible values only."""
    history: tuple[tuple[Frame, ...], ...] = ()
    """Earlier stacks at question steps, newest last, for "back". Capped by the engine."""
    failures: int = 0
    """Consecutive answers that failed the current question's validation."""
    fallbacks: int = 0
    """Consecutive messages not understood at all."""
    offer: str | None = None
    """What a yes/no answer now accepts: ``handoff``, ``flow:<id>`` (a digression offered), or None."""
    version: int = 0

    @property
    def frame(self) -> Frame | None:
        return self.stack[-1] if self.stack else None

    def with_slots(self, **updates: Any) -> State:
        return replace(self, slots={**self.slots, **updates})

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": STATE_FORMAT_VERSION,
                "language": self.language,
                "stack": [_frame_to_list(f) for f in self.stack],
                "slots": dict(self.slots),
                "history": [[_frame_to_list(f) for f in h] for h in self.history],
                "failures": self.failures,
                "fallbacks": self.fallbacks,
                "offer": self.offer,
                "version": self.version,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> State:
        data = json.loads(text)
        if data.get("v") != STATE_FORMAT_VERSION:
            raise ValueError(f"unknown state format {data.get('v')!r}")
        return cls(
            language=data["language"],
            stack=tuple(_frame_from_list(f) for f in data["stack"]),
            slots=data["slots"],
            history=tuple(tuple(_frame_from_list(f) for f in h) for h in data["history"]),
            failures=data["failures"],
            fallbacks=data["fallbacks"],
            offer=data["offer"],
            version=data["version"],
        )


def _frame_to_list(frame: Frame) -> list[Any]:
    return [frame.flow, frame.step, frame.waiting]


def _frame_from_list(data: list[Any]) -> Frame:
    return Frame(flow=data[0], step=data[1], waiting=bool(data[2]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one turn produced: the state to store, the replies to send, the effects to perform."""

    state: State
    replies: tuple[Reply, ...]
    effects: tuple[Effect, ...] = ()
