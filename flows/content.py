"""The content model: flows and their steps as loaded from ``content/``, frozen and validated.

A ``Content`` is built once by ``flows.loader`` and then shared read-only by every conversation.
Each object remembers where it was written (``source``) so that errors can point at the YAML line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from flows.model import SourcePos

END: Final = "END"
"""The ``next:`` target that ends the flow."""

ANSWER_TYPES: Final = ("choice", "yes_no", "date", "time", "datetime", "number", "text")
"""Validators an ``ask`` step can apply to the answer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    """One button of a ``choice`` step (or of an ``ask`` with ``type: choice``)."""

    id: str
    label: str
    """Template key of the button text."""
    next: str | None
    """Step id to continue with, ``END``, or None for the step below."""
    source: SourcePos


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """One arm of a ``branch`` step; ``expr`` None is the ``else`` arm."""

    expr: str | None
    next: str
    source: SourcePos


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """Fields every step has."""

    id: str
    source: SourcePos
    next: str | None = None
    """Explicit successor (a step id or ``END``); None continues with the step below."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SayStep(Step):
    template: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AskStep(Step):
    """A question whose answer is validated and stored in ``slot``."""

    template: str
    slot: str
    type: str
    hint: str | None = None
    options: tuple[Option, ...] = ()
    min: float | None = None
    max: float | None = None
    future: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceStep(Step):
    """A question answered with buttons, each of which may branch."""

    template: str
    options: tuple[Option, ...]
    slot: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchStep(Step):
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStep(Step):
    flow: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionStep(Step):
    action: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffStep(Step):
    template: str
    reason: str = "flow"


@dataclass(frozen=True, slots=True, kw_only=True)
class EndStep(Step):
    template: str | None = None


WAITING_STEPS: Final = (AskStep, ChoiceStep)
"""Steps that stop the run and wait for the customer's answer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    id: str
    title: Mapping[str, str]
    """The flow's name per language, shown on menu buttons and in digression offers."""
    intents: tuple[str, ...]
    steps: tuple[Step, ...]
    templates: str
    """The template file (without ``.j2``) that bare template names refer to."""
    source: SourcePos
    index: Mapping[str, int] = field(default_factory=dict)
    """Step id → position in ``steps``."""

    def step(self, step_id: str) -> Step:
        return self.steps[self.index[step_id]]

    def after(self, step: Step) -> str | None:
        """The id of the step that follows ``step`` when it has no ``next:``; None at the end."""
        if step.next is not None:
            return None if step.next == END else step.next
        position = self.index[step.id] + 1
        return self.steps[position].id if position < len(self.steps) else None

    @property
    def interactive(self) -> bool:
        """Whether the flow ever waits for an answer (a one-message answer flow does not)."""
        return any(isinstance(s, WAITING_STEPS) for s in self.steps) or any(isinstance(s, CallStep) for s in self.steps)


@dataclass(frozen=True, slots=True, kw_only=True)
class Commands:
    """Words that work anywhere, folded (see ``flows.text.fold``)."""

    words: Mapping[str, str]
    """Folded phrase → command name (back, repeat, restart, cancel, menu, human, language)."""
    languages: Mapping[str, str]
    """Folded phrase → language code, for "in English please"-style switches."""


TelegramMenu = Mapping[str, tuple[tuple[str, str], ...]]
"""language → ``(command, description)`` pairs for Telegram's ``setMyCommands``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Content:
    """Everything loaded from ``content/``, validated."""

    root: Path
    flows: Mapping[str, Flow]
    intent_flows: Mapping[str, str]
    """Intent → id of the flow it starts."""
    commands: Commands
    menu: tuple[str, ...]
    """Flow ids shown as buttons in the main menu, in order."""
    office: Mapping[str, Any]
    """The ``office:`` section of ``settings.yml``: facts that differ per office."""
    templates: Mapping[str, Mapping[str, str]]
    """language → template file stem → source text of ``templates/<lang>/<stem>.j2``."""
    template_files: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """language → template file stem → path, for error messages."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The whole of ``settings.yml`` (``office`` included), for ``bot.settings``."""
    labels: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Option label template key → its folded button text in every language, so that typing a
    button's text (in any language) chooses it like pressing it."""
    telegram_menu: TelegramMenu = field(default_factory=dict)
    """language → the ``(command, description)`` pairs of the command menu Telegram shows, in the
    order of ``telegram_menu:`` in ``commands.yml``; empty when that section is missing."""
