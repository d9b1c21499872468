"""Conversation tests as data, in the spirit of Rasa's end-to-end test cases.

A file in ``tests/conversations/`` holds ``test_cases:``; each is a list of steps::

    test_cases:
      - test_case: register_with_bank_codes
        language: fi
        steps:
          - user: "miten ilmoittaudun työnhakijaksi"
          - bot: register_jobseeker.intro
          - bot: register_jobseeker.ask_citizenship
            buttons: 2                  # how many buttons, or a list of their texts
          - user: "1"                   # a button's number, a payload, or free text
          - bot: register_jobseeker.ask_identification
            contains: "Oma asiointi"    # the rendered text must contain this
          - intent: register_jobseeker  # optional: what the NLU made of the last user message
          - slot: {citizenship: eu}     # optional: the state's slots after the last turn

After each ``user`` step the ``bot`` steps that follow must match the turn's replies one by one,
in order, and no reply may be left unmatched. A failure names the YAML file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from flows.content import Content
from flows.engine import step
from flows.model import OUT_OF_SCOPE, Outcome, ParsedMessage, State
from flows.render import Renderer

DEFAULT_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Helsinki"))

Parse = Callable[[str, str | None, datetime], ParsedMessage]


@dataclass
class ConversationCase:
    name: str
    file: Path
    line: int
    language: str
    now: datetime
    steps: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.file.name}:{self.line}:{self.name}"


class _Loader(yaml.SafeLoader):
    pass


def _mapping_with_line(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    result = loader.construct_mapping(node, deep=True)
    result["__line__"] = node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def load_cases(folder: Path) -> Iterator[ConversationCase]:
    for path in sorted(folder.glob("*.yml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # _Loader is a SafeLoader
        for case in data.get("test_cases", []):
            now = case.get("now")
            yield ConversationCase(
                name=case["test_case"],
                file=path,
                line=case["__line__"],
                language=case.get("language", "fi"),
                now=datetime.fromisoformat(now).replace(tzinfo=DEFAULT_NOW.tzinfo) if now else DEFAULT_NOW,
                steps=[(s.pop("__line__"), s) for s in case["steps"]],
            )


class ConversationFailure(AssertionError):
    pass


def run_case(case: ConversationCase, content: Content, renderer: Renderer, parse: Parse) -> None:
    """Play ``case`` against the engine; raise ``ConversationFailure`` naming file:line on a mismatch."""
    state = State(language=case.language)
    outcome: Outcome | None = None
    pending: list[Any] = []
    last_buttons: tuple[tuple[str, str], ...] = ()
    parsed: ParsedMessage | None = None

    def fail(line: int, message: str) -> None:
        raise ConversationFailure(f"{case.file}:{line}: [{case.name}] {message}")

    def check_done(line: int) -> None:
        if pending:
            fail(line, f"the bot also said {[r.template for r in pending]}, which the test does not expect")

    for line, item in case.steps:
        if "user" in item:
            check_done(line)
            text = str(item["user"])
            if text.isdigit() and last_buttons and 1 <= int(text) <= len(last_buttons):
                text = last_buttons[int(text) - 1][1]  # as a channel maps a number to its button
            parsed = parse(text, state.language, case.now)
            outcome = step(content, state, parsed, now=case.now)
            state = outcome.state
            pending = list(outcome.replies)
            last_buttons = ()
        elif "bot" in item:
            if not pending:
                fail(line, f"expected the bot to say {item['bot']}, but it said nothing more")
            reply = pending.pop(0)
            if reply.template != item["bot"]:
                fail(line, f"expected {item['bot']}, the bot said {reply.template}")
            rendered = renderer.render(reply, state.language, state.slots)
            if reply.buttons:
                last_buttons = rendered.buttons
            if "contains" in item and str(item["contains"]).casefold() not in rendered.text.casefold():
                fail(line, f"{reply.template} does not contain {item['contains']!r}: {rendered.text!r}")
            want = item.get("buttons")
            if isinstance(want, int) and len(rendered.buttons) != want:
                fail(line, f"expected {want} buttons, got {[t for t, _ in rendered.buttons]}")
            if isinstance(want, list) and [t for t, _ in rendered.buttons] != [str(w) for w in want]:
                fail(line, f"expected buttons {want}, got {[t for t, _ in rendered.buttons]}")
        elif "intent" in item:
            got = parsed.intent if parsed else OUT_OF_SCOPE
            if got != item["intent"]:
                fail(line, f"expected intent {item['intent']}, the NLU said {got}")
        elif "slot" in item:
            for name, value in item["slot"].items():
                if name == "__line__":
                    continue
                if state.slots.get(name) != value:
                    fail(line, f"expected slot {name}={value!r}, state has {state.slots.get(name)!r}")
        elif "language" in item:
            if state.language != item["language"]:
                fail(line, f"expected language {item['language']}, state has {state.language}")
        elif "effect" in item:
            kinds = [type(e).__name__ for e in (outcome.effects if outcome else ())]
            if item["effect"] not in kinds:
                fail(line, f"expected effect {item['effect']}, the turn had {kinds}")
        else:
            fail(line, f"unknown step {sorted(item)}")
    check_done(case.steps[-1][0] if case.steps else case.line)
