"""nlu.data: Rasa 3 NLU YAML → examples, with every problem reported as file:line in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.data import EntityAnnotation, parse_markup, read_from_string, read_path
from nlu.errors import TrainingDataError

GOOD = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - moi
    - hei [huomenna](date)
- intent: set_reminder
  examples: |
    - muistuta [maanantaina]{"entity": "date", "value": "monday"}

    - muistuta [klo 9](time:09:00)
- synonym: te_office
  examples: |
    - työkkäri
- regex: hetu
  examples: |
    - \\d{6}[-+A]\\d{3}\\w
- lookup: weekday
  examples: |
    - maanantai
"""


def test_reads_intents_synonyms_regexes_and_lookups_with_lines() -> None:
    data = read_from_string(GOOD, "fi/x.yml", language="fi")

    assert [(e.intent, e.text, e.source.line) for e in data.examples] == [
        ("greet", "moi", 5),
        ("greet", "hei huomenna", 6),
        ("set_reminder", "muistuta maanantaina", 9),
        ("set_reminder", "muistuta klo 9", 11),
    ]
    assert {e.language for e in data.examples} == {"fi"}
    assert data.synonyms[0].value == "te_office" and data.synonyms[0].variants == ("työkkäri",)
    assert data.regexes[0].patterns == ("\\d{6}[-+A]\\d{3}\\w",)
    assert data.lookups[0].elements == ("maanantai",)
    assert data.intents == ("greet", "set_reminder")


def test_markup_becomes_plain_text_and_spans() -> None:
    text, entities = parse_markup('muistuta [maanantaina]{"entity": "date", "value": "monday"} [klo 9](time:09:00)')

    assert text == "muistuta maanantaina klo 9"
    assert entities == (
        EntityAnnotation(entity="date", value="monday", start=9, end=20),
        EntityAnnotation(entity="time", value="09:00", start=21, end=26),
    )
    assert text[entities[1].start : entities[1].end] == "klo 9"


def test_plain_brackets_are_text() -> None:
    assert parse_markup("[HETU] ja (sulut)") == ("[HETU] ja (sulut)", ())


def test_examples_as_a_list_of_text_mappings() -> None:
    text = 'version: "3.1"\nnlu:\n- intent: greet\n  examples:\n  - text: moi\n  - text: |\n      hei\n'
    data = read_from_string(text, "x.yml")

    assert [(e.text, e.source.line) for e in data.examples] == [("moi", 5), ("hei", 6)]


def test_every_problem_is_reported_with_file_and_line() -> None:
    bad = """\
version: "3.1"
stories: []
nlu:
- intent: greet
  examples: |
    - moi
    ilman viivaa
    - [x]{"entity": oops}
- intent: deny
- regex: broken
  examples: |
    - (unclosed
- intent: greet
  synonym: both
  examples: |
    - x
- intent: affirm
  examples: |
    - joo
  extra: 1
"""
    with pytest.raises(TrainingDataError) as caught:
        read_from_string(bad, "content/nlu/fi/bad.yml")

    lines = str(caught.value).splitlines()
    assert (
        lines[0] == "content/nlu/fi/bad.yml:2: unknown top-level key 'stories'; NLU files hold only `version` and `nlu`"
    )
    assert lines[1].startswith("content/nlu/fi/bad.yml:7: `intent: greet`: an example must start with '- '")
    assert lines[2].startswith("content/nlu/fi/bad.yml:8: entity annotation")
    assert lines[3] == "content/nlu/fi/bad.yml:9: `intent: deny` has no `examples`"
    assert lines[4].startswith("content/nlu/fi/bad.yml:12: regex `broken`: invalid pattern")
    assert lines[5].startswith("content/nlu/fi/bad.yml:13: an `nlu` item needs exactly one of")
    assert lines[6] == "content/nlu/fi/bad.yml:20: unknown key 'extra' in a `intent` item"
    assert len(caught.value.problems) == 7


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(TrainingDataError, match=r"^bad\.yml:5: invalid YAML: .* \(in what starts on line 4\)"):
        read_from_string('version: "3.1"\nnlu:\n- intent: greet\n  examples: [unclosed\n', "bad.yml")


def test_empty_file_is_no_data() -> None:
    assert read_from_string("", "empty.yml").examples == ()


def test_folder_language_comes_from_the_sub_folder(tmp_path: Path) -> None:
    for language in ("fi", "sv"):
        (tmp_path / language).mkdir()
        (tmp_path / language / "greet.yml").write_text(
            f'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hei {language}\n', encoding="utf-8"
        )
    (tmp_path / "README.md").write_text("not data", encoding="utf-8")

    data = read_path(tmp_path)

    assert sorted((e.language, e.text) for e in data.examples) == [("fi", "hei fi"), ("sv", "hei sv")]
    assert read_path(tmp_path / "sv" / "greet.yml").examples[0].language == "sv"


def test_problems_in_several_files_are_collected(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("nlu:\n- intent: x\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text("nlu: 3\n", encoding="utf-8")

    with pytest.raises(TrainingDataError) as caught:
        read_path(tmp_path)

    assert [p.source.line for p in caught.value.problems] == [2, 1]
    assert [Path(p.source.file).name for p in caught.value.problems] == ["a.yml", "b.yml"]


def test_missing_path() -> None:
    with pytest.raises(TrainingDataError, match="no such file or folder"):
        read_path("/nonexistent/nlu")
