"""Rasa 3 NLU training data (YAML) read into frozen examples, with ``file:line`` for every mistake.

The format is Rasa's own (``rasa/shared/nlu/training_data/formats/rasa_yaml.py``) so that Rasa 3.6
trains on ``content/nlu/`` unchanged::

    version: "3.1"
    nlu:
    - intent: greet
      examples: |
        - moi
        - hei [huomenna](date)
    - synonym: te_office
      examples: |
        - työkkäri
    - regex: hetu
      examples: |
        - \\d{6}[-+A-FU-Y]\\d{3}[0-9A-Y]
    - lookup: weekday
      examples: |
        - maanantai

Entity markup, ``[text](entity)``, ``[text](entity:value)`` and ``[text]{"entity": ..., "value": ...}``,
is stripped to plain text plus character spans, as Rasa's ``entities_parser.py`` does.

Unlike Rasa, which warns and skips, every problem found is collected in one pass and raised as one
``TrainingDataError`` whose lines start ``path/file.yml:42:``. The language of an example is the
language sub-folder it lives in (``fi/``, ``sv/``, ``en/``), or None outside such a folder.

``read_from_string`` is pure; ``read_path`` walks files and folders.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml

from flows.model import LANGUAGES, SourcePos
from nlu.errors import DataProblem, TrainingDataError

KEY_VERSION: Final = "version"
KEY_NLU: Final = "nlu"
KEY_INTENT: Final = "intent"
KEY_SYNONYM: Final = "synonym"
KEY_REGEX: Final = "regex"
KEY_LOOKUP: Final = "lookup"
KEY_EXAMPLES: Final = "examples"
KEY_METADATA: Final = "metadata"
KEY_TEXT: Final = "text"
ITEM_KINDS: Final = (KEY_INTENT, KEY_SYNONYM, KEY_REGEX, KEY_LOOKUP)
YAML_SUFFIXES: Final = (".yml", ".yaml")

# Rasa's ENTITY_REGEX (rasa/shared/nlu/training_data/entities_parser.py), kept identical so that both
# readers agree on what is markup.
_ENTITY_MARKUP: Final = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\]"
    r"(\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)|\{(?P<entity_dict>[^}]+?)\}"
    r"|\[(?P<list_entity_dicts>.*?)\])"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityAnnotation:
    """An entity marked up in a training example: ``[text](entity:value)``."""

    entity: str
    value: str
    """The canonical value: the marked-up text unless a ``:value`` or ``"value"`` says otherwise."""
    start: int
    end: int
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    """One labelled training (or test) message."""

    text: str
    """Plain text, markup removed."""
    intent: str
    language: str | None
    """``fi``, ``sv`` or ``en`` from the sub-folder; None for a file outside a language folder."""
    entities: tuple[EntityAnnotation, ...] = ()
    source: SourcePos


@dataclass(frozen=True, slots=True, kw_only=True)
class Synonym:
    """``variants`` all mean ``value`` (Rasa maps entity values; the built-in NLU also folds words)."""

    value: str
    variants: tuple[str, ...]
    language: str | None
    source: SourcePos


@dataclass(frozen=True, slots=True, kw_only=True)
class RegexFeature:
    """Named regular expressions; a match is a feature (Rasa's ``RegexFeaturizer``)."""

    name: str
    patterns: tuple[str, ...]
    language: str | None
    source: SourcePos


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup:
    """A named word list; a listed word in the message is a feature (Rasa's lookup tables)."""

    name: str
    elements: tuple[str, ...]
    language: str | None
    source: SourcePos


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingData:
    """Everything read from one or more NLU files."""

    examples: tuple[Example, ...] = ()
    synonyms: tuple[Synonym, ...] = ()
    regexes: tuple[RegexFeature, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    files: tuple[str, ...] = field(default=())
    """The files read, as displayed in error messages."""

    @property
    def intents(self) -> tuple[str, ...]:
        """Intent names in sorted order."""
        return tuple(sorted({e.intent for e in self.examples}))

    def merge(self, other: TrainingData) -> TrainingData:
        return TrainingData(
            examples=self.examples + other.examples,
            synonyms=self.synonyms + other.synonyms,
            regexes=self.regexes + other.regexes,
            lookups=self.lookups + other.lookups,
            files=self.files + other.files,
        )


def read_path(path: Path | str) -> TrainingData:
    """Read a Rasa NLU file, or every ``.yml``/``.yaml`` file under a folder (recursively, sorted).

    Raises:
        TrainingDataError: listing every problem in every file, or that the path does not exist.
    """
    root = Path(path)
    if root.is_file():
        files = [root]
        languages = {root: root.parent.name if root.parent.name in LANGUAGES else None}
    elif root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
        languages = {p: _language_of(p.relative_to(root)) for p in files}
    else:
        raise TrainingDataError([DataProblem(SourcePos(_display(root), 0), "no such file or folder")])
    data = TrainingData()
    problems: list[DataProblem] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(DataProblem(SourcePos(_display(file), 0), f"cannot read: {exc}"))
            continue
        try:
            data = data.merge(read_from_string(text, _display(file), language=languages[file]))
        except TrainingDataError as exc:
            problems.extend(exc.problems)
    if problems:
        raise TrainingDataError(problems)
    return data


def read_from_string(text: str, file: str, *, language: str | None = None) -> TrainingData:
    """Parse one NLU YAML document; ``file`` is only used in error messages and ``source``.

    Raises:
        TrainingDataError: every problem in the document.
    """
    reader = _Reader(file, language)
    data = reader.read(text)
    if reader.problems:
        raise TrainingDataError(reader.problems)
    return data


def parse_markup(example: str) -> tuple[str, tuple[EntityAnnotation, ...]]:
    """Strip Rasa entity markup: ``"on [monday](day)"`` → ``("on monday", (EntityAnnotation(...),))``.

    Raises:
        ValueError: a ``{...}`` annotation that is not a JSON object with an ``entity`` key.
    """
    plain: list[str] = []
    entities: list[EntityAnnotation] = []
    position = 0
    length = 0
    for match in _ENTITY_MARKUP.finditer(example):
        before = example[position : match.start()]
        plain.append(before)
        length += len(before)
        entity_text = match.group("entity_text")
        for annotation in _annotations(match):
            entities.append(
                EntityAnnotation(
                    entity=annotation["entity"],
                    value=str(annotation.get("value", entity_text)),
                    start=length,
                    end=length + len(entity_text),
                    role=annotation.get("role"),
                    group=annotation.get("group"),
                )
            )
        plain.append(entity_text)
        length += len(entity_text)
        position = match.end()
    plain.append(example[position:])
    return "".join(plain), tuple(entities)


def _annotations(match: re.Match[str]) -> list[dict[str, str]]:
    if match.group("entity"):
        found = {"entity": match.group("entity")}
        if match.group("value"):
            found["value"] = match.group("value")
        return [found]
    raw = match.group("entity_dict")
    items: list[object]
    try:
        if raw is not None:
            items = [json.loads("{" + raw + "}")]
        else:
            items = json.loads("[" + match.group("list_entity_dicts") + "]")
    except json.JSONDecodeError as exc:
        raise ValueError(f"entity annotation {match.group(0)!r} is not valid JSON ({exc.msg})") from None
    result: list[dict[str, str]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("entity"), str) or not item["entity"]:
            raise ValueError(f'entity annotation {match.group(0)!r} needs an "entity" key')
        result.append({k: str(v) for k, v in item.items() if v is not None})
    return result


class _Reader:
    """Walks the composed YAML node tree, which keeps ``start_mark`` line numbers that dicts lose."""

    def __init__(self, file: str, language: str | None) -> None:
        self.file = file
        self.language = language
        self.problems: list[DataProblem] = []

    def problem(self, node: yaml.Node | None, message: str, line_offset: int = 0) -> None:
        line = (node.start_mark.line + 1 if node is not None else 1) + line_offset
        self.problems.append(DataProblem(SourcePos(self.file, line), message))

    def source(self, node: yaml.Node, line_offset: int = 0) -> SourcePos:
        return SourcePos(self.file, node.start_mark.line + 1 + line_offset)

    def read(self, text: str) -> TrainingData:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            reason = getattr(exc, "problem", None) or str(exc)
            context = getattr(exc, "context_mark", None)
            if context is not None and context.line + 1 != line:
                # An unclosed bracket is found at the end of the file; where it opened helps more.
                reason = f"{reason} (in what starts on line {context.line + 1})"
            self.problems.append(DataProblem(SourcePos(self.file, line), f"invalid YAML: {reason}"))
            return TrainingData(files=(self.file,))
        if root is None:
            return TrainingData(files=(self.file,))
        if not isinstance(root, yaml.MappingNode):
            self.problem(root, "expected a mapping with `version` and `nlu` keys")
            return TrainingData(files=(self.file,))
        items: yaml.Node | None = None
        for key, value in root.value:
            name = key.value
            if name == KEY_NLU:
                items = value
            elif name != KEY_VERSION:
                self.problem(key, f"unknown top-level key {name!r}; NLU files hold only `version` and `nlu`")
        if items is None or (isinstance(items, yaml.ScalarNode) and items.value in ("", "~", "null")):
            return TrainingData(files=(self.file,))
        if not isinstance(items, yaml.SequenceNode):
            self.problem(items, "`nlu` must be a list of intent, synonym, regex or lookup items")
            return TrainingData(files=(self.file,))
        data = TrainingData(files=(self.file,))
        for item in items.value:
            data = data.merge(self.read_item(item))
        return TrainingData(
            examples=data.examples,
            synonyms=data.synonyms,
            regexes=data.regexes,
            lookups=data.lookups,
            files=(self.file,),
        )

    def read_item(self, item: yaml.Node) -> TrainingData:
        if not isinstance(item, yaml.MappingNode):
            self.problem(item, "each `nlu` item must be a mapping such as `- intent: greet`")
            return TrainingData()
        fields = {key.value: (key, value) for key, value in item.value}
        kinds = [k for k in ITEM_KINDS if k in fields]
        if len(kinds) != 1:
            wanted = ", ".join(f"`{k}`" for k in ITEM_KINDS)
            self.problem(item, f"an `nlu` item needs exactly one of {wanted}, found {len(kinds)}")
            return TrainingData()
        kind = kinds[0]
        for name, (key, _) in fields.items():
            if name not in (kind, KEY_EXAMPLES, KEY_METADATA):
                self.problem(key, f"unknown key {name!r} in a `{kind}` item")
        name_node = fields[kind][1]
        name = name_node.value if isinstance(name_node, yaml.ScalarNode) else ""
        if not isinstance(name, str) or not name.strip():
            self.problem(name_node, f"`{kind}` needs a name")
            return TrainingData()
        name = name.strip()
        if KEY_EXAMPLES not in fields:
            self.problem(item, f"`{kind}: {name}` has no `examples`")
            return TrainingData()
        lines = list(self.example_lines(fields[KEY_EXAMPLES][1], kind, name))
        if not lines:
            self.problem(fields[KEY_EXAMPLES][1], f"`{kind}: {name}` has no examples")
            return TrainingData()
        if kind == KEY_INTENT:
            return TrainingData(examples=tuple(self.examples(name, lines)))
        source = self.source(item)
        texts = tuple(text for text, _ in lines)
        if kind == KEY_SYNONYM:
            return TrainingData(synonyms=(Synonym(value=name, variants=texts, language=self.language, source=source),))
        if kind == KEY_REGEX:
            for text, pos in lines:
                try:
                    re.compile(text)
                except re.error as exc:
                    self.problems.append(DataProblem(pos, f"regex `{name}`: invalid pattern ({exc})"))
            return TrainingData(
                regexes=(RegexFeature(name=name, patterns=texts, language=self.language, source=source),)
            )
        lookup = Lookup(name=name, elements=texts, language=self.language, source=source)
        return TrainingData(lookups=(lookup,))

    def examples(self, intent: str, lines: list[tuple[str, SourcePos]]) -> Iterator[Example]:
        for text, pos in lines:
            try:
                plain, entities = parse_markup(text)
            except ValueError as exc:
                self.problems.append(DataProblem(pos, str(exc)))
                continue
            yield Example(text=plain, intent=intent, language=self.language, entities=entities, source=pos)

    def example_lines(self, node: yaml.Node, kind: str, name: str) -> Iterator[tuple[str, SourcePos]]:
        """Yield (example, position) from a ``|`` block of ``- `` lines or a list of ``text:`` mappings."""
        if isinstance(node, yaml.ScalarNode):
            # A block scalar's mark is at the `|`; its first line is the next one.
            first = 1 if node.style in ("|", ">") else 0
            for index, raw in enumerate(node.value.split("\n")):
                line = raw.strip()
                if not line:
                    continue
                pos = self.source(node, first + index)
                if not line.startswith("-"):
                    self.problems.append(
                        DataProblem(pos, f"`{kind}: {name}`: an example must start with '- ', got {line!r}")
                    )
                    continue
                example = line[1:].strip()
                if not example:
                    self.problems.append(DataProblem(pos, f"`{kind}: {name}`: empty example"))
                    continue
                yield example, pos
        elif isinstance(node, yaml.SequenceNode):
            for entry in node.value:
                text_node = _text_of(entry)
                if text_node is None or not text_node.value.strip():
                    self.problem(entry, f"`{kind}: {name}`: a listed example needs a non-empty `text`")
                    continue
                yield text_node.value.strip(), self.source(text_node)
        else:
            self.problem(node, f"`{kind}: {name}`: `examples` must be a `|` block of '- ' lines")


def _text_of(entry: yaml.Node) -> yaml.ScalarNode | None:
    if isinstance(entry, yaml.MappingNode):
        for key, value in entry.value:
            if key.value == KEY_TEXT and isinstance(value, yaml.ScalarNode):
                return value
    return None


def _language_of(relative: Path) -> str | None:
    for part in relative.parts[:-1]:
        if part in LANGUAGES:
            return part
    return None


def _display(path: Path) -> str:
    """The path as error messages show it: relative to the working directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
