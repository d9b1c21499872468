"""nlu.model: training on a small data set, parsing, payloads, persistence and staleness."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from flows.model import OUT_OF_SCOPE, SourcePos
from nlu.data import Example
from nlu.errors import ModelFileError, NLUError, TrainingDataError
from nlu.model import NLUModel, _beside, _dev_split, data_hash, is_stale, load, load_or_train, train

NOW = datetime(2025, 12, 5, 14, 0, tzinfo=ZoneInfo("Europe/Helsinki"))


@pytest.mark.parametrize(
    ("text", "hint", "intent", "language"),
    [
        ("moi", "fi", "greet", "fi"),
        ("hello", "en", "greet", "en"),
        ("muistuta mua perjantaina", "fi", "set_reminder", "fi"),
        ("please remind me on Friday", "en", "set_reminder", "en"),
        ("miten ilmottaudun tyonhakijaks", "fi", "register_jobseeker", "fi"),
        ("I want to register as a jobseeker", "fi", "register_jobseeker", "en"),
    ],
)
def test_parses_intent_and_language(mini_model: NLUModel, text: str, hint: str, intent: str, language: str) -> None:
    parsed = mini_model.parse(text, hint, NOW)
    assert (parsed.intent, parsed.language) == (intent, language)
    assert parsed.text == text
    assert 0.0 < parsed.confidence <= 1.0
    assert parsed.ranking[0].name == intent
    assert sum(s.confidence for s in parsed.ranking) == pytest.approx(1.0, abs=1e-3)


def test_entities_are_resolved_against_now(mini_model: NLUModel) -> None:
    parsed = mini_model.parse("muistuta mua huomenna klo 9", "fi", NOW)
    entity = parsed.entity("datetime")
    assert entity is not None and entity.value == "2025-12-06T09:00"


def test_intent_payload_is_certain(mini_model: NLUModel) -> None:
    parsed = mini_model.parse("/set_reminder", "sv", NOW)
    assert (parsed.intent, parsed.confidence, parsed.language) == ("set_reminder", 1.0, "sv")


@pytest.mark.parametrize("text", ["/no_such_intent", "/", "/c:flow:1", "  /start"])
def test_other_slash_text_is_out_of_scope_with_no_confidence(mini_model: NLUModel, text: str) -> None:
    parsed = mini_model.parse(text, "fi", NOW)
    assert (parsed.intent, parsed.confidence) == (OUT_OF_SCOPE, 0.0)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_out_of_scope(mini_model: NLUModel, text: str) -> None:
    parsed = mini_model.parse(text, "fi", NOW)
    assert (parsed.intent, parsed.confidence, parsed.ranking) == (OUT_OF_SCOPE, 0.0, ())


def test_below_the_threshold_the_parse_is_out_of_scope(mini_model: NLUModel) -> None:
    for text in ("zxq vbn plk", "😀", "1234"):
        parsed = mini_model.parse(text, "fi", NOW)
        if parsed.ranking[0].name == OUT_OF_SCOPE:
            assert (parsed.intent, parsed.confidence) == (OUT_OF_SCOPE, parsed.ranking[0].confidence)
        elif parsed.ranking[0].confidence < mini_model.calibration.threshold:
            assert parsed.intent == OUT_OF_SCOPE
            assert parsed.confidence == pytest.approx(1.0 - parsed.ranking[0].confidence)
        else:
            assert parsed.intent == parsed.ranking[0].name


def test_huge_text_stays_fast(mini_model: NLUModel) -> None:
    text = "muistuta mua huomenna " * 5000  # 110 KB
    started = time.perf_counter()
    parsed = mini_model.parse(text, "fi", NOW)
    assert time.perf_counter() - started < 0.25
    assert parsed.intent == "set_reminder"


def test_save_and_load_give_the_same_parses(mini_model: NLUModel, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "model.pkl"
    mini_model.save(path)
    loaded = load(path)
    for text in ("moi", "remind me tomorrow", "kerro vitsi"):
        assert loaded.parse(text, "fi", NOW) == mini_model.parse(text, "fi", NOW)
    assert loaded.data_hash == mini_model.data_hash


def test_load_refuses_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no model file"):
        load(tmp_path / "missing.pkl")
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(ModelFileError, match="unreadable"):
        load(garbage)


def test_load_or_train_retrains_only_when_the_data_changed(mini_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for file in mini_data.rglob("*.yml"):
        target = data / file.relative_to(mini_data)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.read_bytes())
    path = tmp_path / "model.pkl"

    first = load_or_train(data, path)
    assert path.exists() and not is_stale(path, data)
    assert load_or_train(data, path).data_hash == first.data_hash

    greet = data / "fi" / "greet.yml"
    greet.write_text(greet.read_text(encoding="utf-8") + "    - tervehdys\n", encoding="utf-8")
    assert is_stale(path, data)
    second = load_or_train(data, path)
    assert second.data_hash == data_hash(data) != first.data_hash
    assert not is_stale(path, data)


def test_training_reports_data_mistakes(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("nlu:\n- intent: greet\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match=r"bad\.yml:2: `intent: greet` has no `examples`"):
        train(tmp_path)


def test_training_needs_two_intents(tmp_path: Path) -> None:
    (tmp_path / "one.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - moi\n", encoding="utf-8")
    with pytest.raises(NLUError, match="at least two intents"):
        train(tmp_path)


def test_training_progress_reaches_the_end(mini_data: Path) -> None:
    seen: list[tuple[str, float]] = []
    train(mini_data, progress=lambda stage, fraction: seen.append((stage, fraction)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)
    assert seen[-1] == ("done", 1.0)


def test_training_is_deterministic(mini_data: Path, mini_model: NLUModel) -> None:
    again = train(mini_data)
    assert again.calibration == mini_model.calibration
    assert (again.weights == mini_model.weights).all()


@pytest.mark.parametrize("text", ["pqpqpq", "xqzvxq wqxz", "Как дела у тебя"])
def test_a_message_with_nothing_known_in_it_is_out_of_scope(mini_model: NLUModel, text: str) -> None:
    """Keyboard mashing or another alphabet: whatever intent scores best does so by chance."""
    parsed = mini_model.parse(text, "fi", NOW)
    assert (parsed.intent, parsed.confidence) == (OUT_OF_SCOPE, 1.0)
    assert [s.name for s in parsed.ranking] == [OUT_OF_SCOPE]  # no chance ranking to offer as buttons


@pytest.mark.parametrize("text", ["hei", "muistuta pqpqpq", "ilmottautuminen"])
def test_one_known_word_or_enough_known_letters_make_a_message_familiar(mini_model: NLUModel, text: str) -> None:
    assert mini_model.featurizer.read(text, "fi")[2]


def test_new_examples_of_one_intent_leave_the_other_intents_dev_split_alone() -> None:
    """The threshold is chosen on the dev split: writing for one intent must not reshuffle the rest."""

    def example(text: str, intent: str) -> Example:
        return Example(text=text, intent=intent, language="fi", source=SourcePos("x.yml", 1))

    def examples(extra: int) -> list[Example]:
        found = [example(f"fi {intent} {i}", intent) for intent in "abc" for i in range(20)]
        return [example(f"fi a new {i}", "a") for i in range(extra)] + found

    before = {examples(0)[i].text for i in _dev_split(examples(0))}
    grown = examples(15)
    after = {grown[i].text for i in _dev_split(grown)}
    assert {t for t in before if not t.startswith("fi a")} == {t for t in after if not t.startswith("fi a")}


def test_work_beside_runs_in_a_child_process_and_its_failure_is_reported() -> None:
    """Half the analysis, and calibration beside the final fit, run in a forked child (liblinear's rand() is global)."""
    assert _beside(os.getpid)() != os.getpid()
    assert _beside(lambda: {"threshold": 0.3})() == {"threshold": 0.3}
    with pytest.raises(NLUError, match="ZeroDivisionError"):
        _beside(lambda: 1 // 0)()
