"""Loading ``content/`` into a validated ``Content``, or one ``ContentError`` listing every problem.

Theory of operation:

1. Read. Each YAML file is parsed with a loader that remembers the line of every mapping and of
   every key in it (``_LineDict``), so each object built from it gets a ``SourcePos``. A file that
   is not valid YAML becomes one problem at the line PyYAML names; the rest still loads.
2. Build. Flows and steps become frozen ``flows.content`` objects. Shape problems (unknown keys, a
   step with two kinds, a missing title language) become problems at that line.
3. Check the whole: ``next`` targets exist; every step is reachable from the first; called flows
   exist; actions are in the registry; intents exist in the NLU data (when the caller says which);
   every intent of the NLU data that the engine does not answer itself has a flow; every template
   block named anywhere exists in every language; branch conditions compile.

``read_from_string`` is pure; only ``read_from_file`` and ``load_content`` touch the disk.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import jinja2
import yaml
from jinja2 import nodes

from flows.actions import KNOWN_ACTIONS
from flows.content import (
    ANSWER_TYPES,
    END,
    ActionStep,
    AskStep,
    BranchStep,
    CallStep,
    ChoiceStep,
    Commands,
    Condition,
    Content,
    EndStep,
    Flow,
    HandoffStep,
    Option,
    SayStep,
    Step,
    TelegramMenu,
)
from flows.engine import SLASH_COMMANDS, SLASH_INTENTS
from flows.errors import ContentError, ContentProblem
from flows.model import LANGUAGES, SourcePos
from flows.render import Renderer, make_environment
from flows.text import fold

KEY_FLOWS: Final = "flows"
KEY_TITLE: Final = "title"
KEY_INTENTS: Final = "intents"
KEY_STEPS: Final = "steps"
KEY_TEMPLATES: Final = "templates"
KEY_DESCRIPTION: Final = "description"
STEP_KINDS: Final = ("say", "ask", "choice", "branch", "call", "action", "handoff", "end")
STEP_KEYS: Final = {
    "say": {"next"},
    "ask": {"slot", "type", "hint", "options", "min", "max", "future", "next"},
    "choice": {"options", "slot", "next"},
    "branch": set(),
    "call": {"next"},
    "action": {"args", "next"},
    "handoff": {"reason", "next"},
    "end": set(),
}
COMMAND_NAMES: Final = ("back", "repeat", "restart", "cancel", "menu", "help", "human", "language", "yes", "no")
KEY_TELEGRAM_MENU: Final = "telegram_menu"
TELEGRAM_COMMAND: Final = re.compile(r"[a-z0-9_]{1,32}")
"""A command as Telegram's ``setMyCommands`` accepts it: 1-32 of a-z, 0-9 and _, no slash."""
TELEGRAM_DESCRIPTION_MAX: Final = 256
"""Telegram's limit on a command's description (at least 1 character)."""
SLASH_COMMANDS_ANSWERED: Final = frozenset({"start", *SLASH_COMMANDS, *SLASH_INTENTS})
"""Slash commands the engine answers; the Telegram menu may list only these."""

BUILTIN_INTENTS: Final = frozenset(
    {
        "greet",
        "goodbye",
        "thanks",
        "help",
        "affirm",
        "deny",
        "bot_challenge",
        "talk_to_human",
        "change_language",
        "out_of_scope",
    }
)
"""Intents the engine answers itself from ``common.j2``; every other intent needs a flow."""

COMMON_BLOCKS: Final = (
    "greet",
    "goodbye",
    "thanks",
    "bot_challenge",
    "help",
    "menu",
    "not_understood",
    "not_understood_menu",
    "did_you_mean",
    "offer_human",
    "handoff_done",
    "handoff_declined",
    "hint_choice",
    "hint_yes_no",
    "hint_date",
    "hint_time",
    "hint_datetime",
    "hint_number",
    "hint_text",
    "date_in_past",
    "repeat_nothing",
    "back_not_possible",
    "cancelled",
    "nothing_to_cancel",
    "restarted",
    "choose_language",
    "language_changed",
    "opt_lang_fi",
    "opt_lang_sv",
    "opt_lang_en",
    "button_expired",
    "anything_else",
    "yes",
    "no",
    "digression_offer",
    "returning",
    "privacy_notice",
    "unsupported_message",
    "attachment_not_here",
    "empty_message",
    "too_long",
    "error_try_again",
    "unknown_command",
)
"""Blocks of ``common.j2`` the engine and the channels use."""

ACTION_BLOCKS: Final = (
    "reminders_none",
    "reminders_list",
    "reminders_cancelled",
    "forgotten",
    "subscribed",
    "unsubscribed",
)
"""Blocks of ``actions.j2`` the shell actions answer with."""


# --------------------------------------------------------------------------------------------------
# YAML with line numbers
# --------------------------------------------------------------------------------------------------


class _LineDict(dict[str, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    result = _LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[str(key)] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

# YAML 1.1 reads yes/no/on/off as booleans, which turns the command word "no" into False. Editors
# write words, so only true/false are booleans here (as in YAML 1.2).
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _parse_yaml(text: str, file: str, problems: list[ContentProblem]) -> Any:
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None and context_mark.line != (mark.line if mark else -1):
            reason += f" ({context} that starts at line {context_mark.line + 1})"
        problems.append(ContentProblem(SourcePos(file, line), f"this is not valid YAML: {reason}"))
        return None


def _pos(file: str, mapping: Any, key: str | None = None) -> SourcePos:
    if isinstance(mapping, _LineDict):
        if key is not None and key in mapping.key_lines:
            return SourcePos(file, mapping.key_lines[key])
        return SourcePos(file, mapping.line)
    return SourcePos(file, 1)


# --------------------------------------------------------------------------------------------------
# Flows
# --------------------------------------------------------------------------------------------------


def read_from_string(text: str, file: str) -> tuple[list[Flow], list[ContentProblem]]:
    """Parse one flow file's text into flows; shape problems are returned, not raised."""
    problems: list[ContentProblem] = []
    data = _parse_yaml(text, file, problems)
    if data is None:
        if not problems:
            problems.append(ContentProblem(SourcePos(file, 1), "the file is empty; expected 'flows:'"))
        return [], problems
    if not isinstance(data, _LineDict) or KEY_FLOWS not in data:
        problems.append(ContentProblem(_pos(file, data), "expected a mapping with the key 'flows:'"))
        return [], problems
    flows_node = data[KEY_FLOWS]
    if not isinstance(flows_node, _LineDict):
        problems.append(ContentProblem(_pos(file, data, KEY_FLOWS), "'flows:' must map flow ids to flows"))
        return [], problems
    flows = []
    for flow_id, node in flows_node.items():
        flow = _build_flow(flow_id, node, file, _pos(file, flows_node, flow_id), problems)
        if flow is not None:
            flows.append(flow)
    return flows, problems


def read_from_file(path: Path, root: Path) -> tuple[list[Flow], list[ContentProblem]]:
    return read_from_string(path.read_text(encoding="utf-8"), _display(path, root))


def _display(path: Path, root: Path) -> str:
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


def _build_flow(flow_id: str, node: Any, file: str, pos: SourcePos, problems: list[ContentProblem]) -> Flow | None:
    if not isinstance(node, _LineDict):
        problems.append(ContentProblem(pos, f"flow '{flow_id}' must be a mapping with title, intents and steps"))
        return None
    pos = SourcePos(file, node.line)
    for key in node:
        if key not in (KEY_TITLE, KEY_INTENTS, KEY_STEPS, KEY_TEMPLATES, KEY_DESCRIPTION):
            problems.append(ContentProblem(_pos(file, node, key), f"flow '{flow_id}' has an unknown key '{key}'"))
    title = node.get(KEY_TITLE)
    if not isinstance(title, Mapping):
        problems.append(ContentProblem(pos, f"flow '{flow_id}' needs 'title:' with {', '.join(LANGUAGES)}"))
        title = {}
    else:
        for lang in LANGUAGES:
            if not isinstance(title.get(lang), str) or not title[lang].strip():
                problems.append(
                    ContentProblem(_pos(file, node, KEY_TITLE), f"flow '{flow_id}' has no title in '{lang}'")
                )
    intents = node.get(KEY_INTENTS, [])
    if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents):
        problems.append(ContentProblem(_pos(file, node, KEY_INTENTS), "'intents:' must be a list of intent names"))
        intents = []
    steps_node = node.get(KEY_STEPS)
    if not isinstance(steps_node, list) or not steps_node:
        problems.append(ContentProblem(pos, f"flow '{flow_id}' needs a non-empty list 'steps:'"))
        return None
    templates = str(node.get(KEY_TEMPLATES, flow_id))
    steps: list[Step] = []
    for number, step_node in enumerate(steps_node, start=1):
        step = _build_step(step_node, number, templates, file, pos, problems)
        if step is not None:
            steps.append(step)
    index: dict[str, int] = {}
    for position, step in enumerate(steps):
        if step.id in index:
            problems.append(ContentProblem(step.source, f"step id '{step.id}' is used twice in flow '{flow_id}'"))
        else:
            index[step.id] = position
    if not steps:
        return None
    return Flow(
        id=str(flow_id),
        title={k: str(v) for k, v in title.items()},
        intents=tuple(intents),
        steps=tuple(steps),
        templates=templates,
        source=pos,
        index=index,
    )


def _template_key(name: Any, templates: str) -> str:
    name = str(name)
    return name if "." in name else f"{templates}.{name}"


def _build_options(
    node: _LineDict, templates: str, file: str, problems: list[ContentProblem], *, branching: bool
) -> tuple[Option, ...]:
    raw = node.get("options")
    if not isinstance(raw, list) or not raw:
        problems.append(ContentProblem(_pos(file, node), "this step needs a non-empty list 'options:'"))
        return ()
    options = []
    for item in raw:
        if isinstance(item, str):
            item_pos = _pos(file, node, "options")
            option_id, label, target = item, None, None
        elif isinstance(item, _LineDict) and "id" in item:
            item_pos = _pos(file, item)
            option_id, label, target = str(item["id"]), item.get("label"), item.get("next")
            for key in item:
                if key not in ("id", "label", "next"):
                    problems.append(ContentProblem(_pos(file, item, key), f"option has an unknown key '{key}'"))
            if target is not None and not branching:
                problems.append(
                    ContentProblem(_pos(file, item, "next"), "options of an 'ask' cannot branch; use a 'choice' step")
                )
        else:
            problems.append(ContentProblem(_pos(file, node, "options"), "each option needs an 'id:'"))
            continue
        options.append(
            Option(
                id=option_id,
                label=_template_key(label or f"opt_{option_id}", templates),
                next=str(target) if target is not None else None,
                source=item_pos,
            )
        )
    return tuple(options)


def _build_step(
    node: Any, number: int, templates: str, file: str, flow_pos: SourcePos, problems: list[ContentProblem]
) -> Step | None:
    if not isinstance(node, _LineDict):
        problems.append(ContentProblem(flow_pos, f"step {number} must be a mapping such as 'say: intro'"))
        return None
    pos = SourcePos(file, node.line)
    kinds = [k for k in STEP_KINDS if k in node]
    if len(kinds) != 1:
        what = "no kind" if not kinds else f"several kinds ({', '.join(kinds)})"
        problems.append(ContentProblem(pos, f"step {number} has {what}; give exactly one of {', '.join(STEP_KINDS)}"))
        return None
    kind = kinds[0]
    allowed = STEP_KEYS[kind] | {kind, "id"}
    for key in node:
        if key not in allowed:
            problems.append(ContentProblem(_pos(file, node, key), f"a '{kind}' step has no key '{key}'"))
    step_id = str(node.get("id", f"step_{number}"))
    next_ = str(node["next"]) if node.get("next") is not None else None
    common = {"id": step_id, "source": pos, "next": next_}
    value = node[kind]
    if kind == "say":
        return SayStep(template=_template_key(value, templates), **common)
    if kind == "ask":
        answer_type = str(node.get("type", "text"))
        if answer_type not in ANSWER_TYPES:
            problems.append(
                ContentProblem(
                    _pos(file, node, "type"),
                    f"unknown answer type '{answer_type}'; use one of {', '.join(ANSWER_TYPES)}",
                )
            )
        if "slot" not in node:
            problems.append(ContentProblem(pos, f"ask step '{step_id}' needs 'slot:' to store the answer in"))
        options = _build_options(node, templates, file, problems, branching=False) if answer_type == "choice" else ()
        return AskStep(
            template=_template_key(value, templates),
            slot=str(node.get("slot", step_id)),
            type=answer_type,
            hint=_template_key(node["hint"], templates) if node.get("hint") else None,
            options=options,
            min=_number(node.get("min")),
            max=_number(node.get("max")),
            future=bool(node.get("future", False)),
            **common,
        )
    if kind == "choice":
        return ChoiceStep(
            template=_template_key(value, templates),
            options=_build_options(node, templates, file, problems, branching=True),
            slot=str(node["slot"]) if node.get("slot") else None,
            **common,
        )
    if kind == "branch":
        return BranchStep(conditions=_build_conditions(value, file, pos, problems), **common)
    if kind == "call":
        return CallStep(flow=str(value), **common)
    if kind == "action":
        args = node.get("args") or {}
        if not isinstance(args, Mapping):
            problems.append(ContentProblem(_pos(file, node, "args"), "'args:' must be a mapping"))
            args = {}
        return ActionStep(action=str(value), args=dict(args), **common)
    if kind == "handoff":
        return HandoffStep(template=_template_key(value, templates), reason=str(node.get("reason", "flow")), **common)
    return EndStep(template=_template_key(value, templates) if value else None, **common)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _build_conditions(value: Any, file: str, pos: SourcePos, problems: list[ContentProblem]) -> tuple[Condition, ...]:
    if not isinstance(value, list) or not value:
        problems.append(ContentProblem(pos, "'branch:' needs a list of '- if: … next: …' and a last '- else: …'"))
        return ()
    conditions = []
    for arm in value:
        arm_pos = _pos(file, arm)
        if isinstance(arm, _LineDict) and "if" in arm and "next" in arm:
            conditions.append(Condition(expr=str(arm["if"]), next=str(arm["next"]), source=arm_pos))
        elif isinstance(arm, _LineDict) and "else" in arm:
            conditions.append(Condition(expr=None, next=str(arm["else"]), source=arm_pos))
        else:
            problems.append(
                ContentProblem(arm_pos, "a branch arm is '- if: <condition>' with 'next:', or '- else: <step>'")
            )
    if conditions and conditions[-1].expr is not None:
        problems.append(ContentProblem(pos, "a branch must end with '- else: <step>' so that it always goes somewhere"))
    return tuple(conditions)


# --------------------------------------------------------------------------------------------------
# Whole-content checks
# --------------------------------------------------------------------------------------------------


def successors(flow: Flow, step: Step) -> Iterator[str]:
    """Step ids that can run right after ``step`` (``END`` excluded)."""
    if isinstance(step, ChoiceStep):
        for option in step.options:
            if option.next is not None:
                if option.next != END:
                    yield option.next
            else:
                after = flow.after(step)
                if after:
                    yield after
        return
    if isinstance(step, BranchStep):
        for condition in step.conditions:
            if condition.next != END:
                yield condition.next
        return
    if isinstance(step, EndStep):
        return
    after = flow.after(step)
    if after is not None:
        yield after


def _targets(step: Step) -> Iterator[tuple[str, SourcePos]]:
    if step.next is not None:
        yield step.next, step.source
    if isinstance(step, ChoiceStep):
        for option in step.options:
            if option.next is not None:
                yield option.next, option.source
    if isinstance(step, BranchStep):
        for condition in step.conditions:
            yield condition.next, condition.source


def _check_flow(flow: Flow, problems: list[ContentProblem]) -> None:
    for step in flow.steps:
        for target, pos in _targets(step):
            if target != END and target not in flow.index:
                problems.append(
                    ContentProblem(pos, f"step '{step.id}' goes to '{target}', but flow '{flow.id}' has no such step")
                )
    reached: set[str] = set()
    todo = [flow.steps[0].id]
    while todo:
        current = todo.pop()
        if current in reached or current not in flow.index:
            continue
        reached.add(current)
        todo.extend(successors(flow, flow.step(current)))
    for step in flow.steps:
        if step.id not in reached:
            problems.append(
                ContentProblem(
                    step.source,
                    f"step '{step.id}' can never be reached in flow '{flow.id}'; point a 'next:' at it or remove it",
                )
            )


def template_keys(flow: Flow) -> Iterator[tuple[str, SourcePos]]:
    """Every template key a flow names, with where it is named."""
    for step in flow.steps:
        for attr in ("template", "hint"):
            key = getattr(step, attr, None)
            if key:
                yield key, step.source
        for option in getattr(step, "options", ()):
            yield option.label, option.source
        if isinstance(step, ActionStep) and step.action == "schedule_reminder":
            topic = step.args.get("topic")
            if isinstance(topic, str) and topic.startswith("'") and topic.endswith("'"):
                yield f"reminders.{topic.strip(chr(39))}", step.source


def _load_templates(
    root: Path, problems: list[ContentProblem]
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], dict[str, dict[str, set[str]]]]:
    sources: dict[str, dict[str, str]] = {}
    paths: dict[str, dict[str, str]] = {}
    blocks: dict[str, dict[str, set[str]]] = {}
    env = make_environment(html=False)
    for lang in LANGUAGES:
        sources[lang], paths[lang], blocks[lang] = {}, {}, {}
        folder = root / "templates" / lang
        if not folder.is_dir():
            problems.append(ContentProblem(SourcePos(_display(folder, root), 1), f"no templates for '{lang}'"))
            continue
        for path in sorted(folder.glob("*.j2")):
            shown = _display(path, root)
            try:
                text = path.read_text(encoding="utf-8")
                tree = env.parse(text)
            except UnicodeDecodeError:
                problems.append(ContentProblem(SourcePos(shown, 1), "the file is not UTF-8 text"))
                continue
            except jinja2.TemplateSyntaxError as exc:
                problems.append(ContentProblem(SourcePos(shown, exc.lineno or 1), f"template error: {exc.message}"))
                continue
            sources[lang][path.stem] = text
            paths[lang][path.stem] = shown
            blocks[lang][path.stem] = {b.name for b in tree.find_all(nodes.Block)}
    return sources, paths, blocks


def _load_yaml_file(path: Path, root: Path, problems: list[ContentProblem]) -> Any:
    if not path.exists():
        problems.append(ContentProblem(SourcePos(_display(path, root), 1), "the file is missing"))
        return None
    return _parse_yaml(path.read_text(encoding="utf-8"), _display(path, root), problems)


def _load_commands(root: Path, problems: list[ContentProblem]) -> tuple[Commands, TelegramMenu]:
    """``commands.yml``: the command words, and the Telegram command menu (``telegram_menu:``)."""
    path = root / "commands.yml"
    shown = _display(path, root)
    data = _load_yaml_file(path, root, problems)
    words: dict[str, str] = {}
    languages: dict[str, str] = {}
    if data is None:
        return Commands(words=words, languages=languages), {}
    commands = data.get("commands", {}) if isinstance(data, Mapping) else {}
    for name, per_lang in commands.items():
        if name not in COMMAND_NAMES:
            problems.append(
                ContentProblem(
                    _pos(shown, commands, name),
                    f"unknown command '{name}'; the commands are {', '.join(COMMAND_NAMES)}",
                )
            )
            continue
        for phrases in (per_lang or {}).values():
            for phrase in phrases or ():
                words.setdefault(fold(str(phrase)), name)
    for lang, phrases in (data.get("languages") or {}).items() if isinstance(data, Mapping) else ():
        if lang not in LANGUAGES:
            problems.append(ContentProblem(_pos(shown, data.get("languages"), lang), f"unknown language '{lang}'"))
            continue
        for phrase in phrases or ():
            languages[fold(str(phrase))] = lang
    return Commands(words=words, languages=languages), _telegram_menu(data, shown, problems)


def _telegram_menu(data: Any, shown: str, problems: list[ContentProblem]) -> TelegramMenu:
    """``telegram_menu:`` of ``commands.yml``: language → ``(command, description)`` pairs, in order.

    Empty when the section is missing (the bot then leaves Telegram's menu as it is).
    """
    node = data.get(KEY_TELEGRAM_MENU) if isinstance(data, Mapping) else None
    if node is None:
        return {}
    if not isinstance(node, _LineDict):
        problems.append(
            ContentProblem(
                _pos(shown, data, KEY_TELEGRAM_MENU),
                f"'{KEY_TELEGRAM_MENU}:' must map commands to their descriptions in {', '.join(LANGUAGES)}",
            )
        )
        return {}
    menu: dict[str, list[tuple[str, str]]] = {lang: [] for lang in LANGUAGES}
    for command, descriptions in node.items():
        pos = _pos(shown, node, command)
        if not TELEGRAM_COMMAND.fullmatch(command):
            problems.append(
                ContentProblem(
                    pos, f"'{command}' is not a Telegram command: write 1-32 of a-z, 0-9 and _, without the /"
                )
            )
            continue
        if command not in SLASH_COMMANDS_ANSWERED:
            problems.append(
                ContentProblem(
                    pos,
                    f"the assistant does not answer /{command}; the menu can list "
                    f"{', '.join('/' + c for c in sorted(SLASH_COMMANDS_ANSWERED))}",
                )
            )
            continue
        if not isinstance(descriptions, _LineDict):
            problems.append(
                ContentProblem(pos, f"command '{command}' needs a description in each of {', '.join(LANGUAGES)}")
            )
            continue
        for lang in descriptions:
            if lang not in LANGUAGES:
                problems.append(
                    ContentProblem(_pos(shown, descriptions, lang), f"command '{command}': unknown language '{lang}'")
                )
        for lang in LANGUAGES:
            text = descriptions.get(lang)
            text = text.strip() if isinstance(text, str) else ""
            where = _pos(shown, descriptions, lang) if lang in descriptions else pos
            if not text:
                problems.append(ContentProblem(where, f"command '{command}' has no description in '{lang}'"))
            elif len(text) > TELEGRAM_DESCRIPTION_MAX:
                problems.append(
                    ContentProblem(
                        where,
                        f"the '{lang}' description of command '{command}' is {len(text)} characters; "
                        f"Telegram allows at most {TELEGRAM_DESCRIPTION_MAX}",
                    )
                )
            else:
                menu[lang].append((command, text))
    return {lang: tuple(pairs) for lang, pairs in menu.items()}


def load_content(
    root: Path,
    *,
    known_intents: Collection[str] | None = None,
    known_actions: Collection[str] = KNOWN_ACTIONS,
) -> Content:
    """Load and check all of ``root`` (the ``content/`` folder).

    Args:
        root: the content folder.
        known_intents: the intents of the NLU training data; when given, flows may only name these,
            and each of them except the engine's built-ins must start a flow.
        known_actions: names ``action:`` steps may use.

    Raises:
        ContentError: listing every problem found, each as ``file:line: problem``.
    """
    root = Path(root)
    problems: list[ContentProblem] = []
    flows: dict[str, Flow] = {}
    for path in sorted((root / "flows").glob("*.yml")):
        loaded, found = read_from_file(path, root)
        problems.extend(found)
        for flow in loaded:
            if flow.id in flows:
                problems.append(
                    ContentProblem(flow.source, f"flow '{flow.id}' is defined twice (first at {flows[flow.id].source})")
                )
                continue
            flows[flow.id] = flow
    if not flows:
        problems.append(ContentProblem(SourcePos(_display(root / "flows", root), 1), "no flows found"))

    intent_flows: dict[str, str] = {}
    for flow in flows.values():
        _check_flow(flow, problems)
        for intent in flow.intents:
            if intent in intent_flows:
                problems.append(
                    ContentProblem(
                        flow.source, f"intent '{intent}' starts both flow '{intent_flows[intent]}' and flow '{flow.id}'"
                    )
                )
            elif intent in BUILTIN_INTENTS:
                problems.append(
                    ContentProblem(
                        flow.source, f"intent '{intent}' is answered by the engine itself and cannot start a flow"
                    )
                )
            elif known_intents is not None and intent not in known_intents:
                problems.append(
                    ContentProblem(
                        flow.source,
                        f"flow '{flow.id}' names intent '{intent}', which "
                        "the NLU training data (content/nlu/) does not have",
                    )
                )
            else:
                intent_flows[intent] = flow.id
        for step in flow.steps:
            if isinstance(step, CallStep) and step.flow not in flows:
                problems.append(
                    ContentProblem(step.source, f"step '{step.id}' calls flow '{step.flow}', which does not exist")
                )
            if isinstance(step, ActionStep) and step.action not in known_actions:
                problems.append(
                    ContentProblem(
                        step.source,
                        f"step '{step.id}' runs unknown action "
                        f"'{step.action}'; known: {', '.join(sorted(known_actions))}",
                    )
                )
            if isinstance(step, BranchStep):
                _check_conditions(step, problems)
    if known_intents is not None:
        for intent in sorted(set(known_intents) - BUILTIN_INTENTS - set(intent_flows)):
            problems.append(
                ContentProblem(
                    SourcePos(_display(root / "flows", root), 1),
                    f"intent '{intent}' of the NLU data starts no flow; add it to a flow's 'intents:'",
                )
            )

    menu_data = _load_yaml_file(root / "menu.yml", root, problems)
    menu = tuple(menu_data.get("menu", ())) if isinstance(menu_data, Mapping) else ()
    for flow_id in menu:
        if flow_id not in flows or not flows[flow_id].intents:
            problems.append(
                ContentProblem(
                    _pos(_display(root / "menu.yml", root), menu_data, "menu"),
                    f"menu names '{flow_id}', which is not a flow with an intent",
                )
            )

    settings = _load_yaml_file(root / "settings.yml", root, problems)
    settings = settings if isinstance(settings, Mapping) else {}
    office = settings.get("office") or {}

    commands, telegram_menu = _load_commands(root, problems)
    sources, paths, blocks = _load_templates(root, problems)
    required = SourcePos(_display(root / "templates", root), 1)
    wanted: list[tuple[str, SourcePos]] = [(f"common.{b}", required) for b in COMMON_BLOCKS]
    wanted += [(f"actions.{b}", required) for b in ACTION_BLOCKS]
    for flow in flows.values():
        wanted.extend(template_keys(flow))
    seen: set[str] = set()
    for key, pos in wanted:
        if key in seen:
            continue
        seen.add(key)
        stem, _, block = key.partition(".")
        missing = [lang for lang in LANGUAGES if block not in blocks.get(lang, {}).get(stem, set())]
        if missing:
            where = ", ".join(
                paths.get(lang, {}).get(stem, f"{root.name}/templates/{lang}/{stem}.j2") for lang in missing
            )
            needed_by = "the assistant needs it" if pos is required else "named here"
            problems.append(
                ContentProblem(
                    pos,
                    f"template '{key}' ({needed_by}) is missing in "
                    f"{', '.join(missing)}: add {{% block {block} %}}…{{% endblock %}} "
                    f"to {where}",
                )
            )
    if problems:
        raise ContentError(problems)
    content = Content(
        root=root,
        flows=flows,
        intent_flows=intent_flows,
        commands=commands,
        menu=menu,
        office=office,
        templates=sources,
        template_files=paths,
        settings=settings,
        telegram_menu=telegram_menu,
    )
    return replace(content, labels=_option_labels(content))


def _option_labels(content: Content) -> dict[str, frozenset[str]]:
    renderer = Renderer(content)
    keys = {o.label for f in content.flows.values() for s in f.steps for o in getattr(s, "options", ())}
    return {key: frozenset(fold(renderer.text(key, lang, {})) for lang in LANGUAGES) for key in keys}


def _check_conditions(step: BranchStep, problems: list[ContentProblem]) -> None:
    env = make_environment(html=False)
    for condition in step.conditions:
        if condition.expr is None:
            continue
        try:
            env.compile_expression(condition.expr)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(
                ContentProblem(condition.source, f"condition '{condition.expr}' is not valid: {exc.message}")
            )
