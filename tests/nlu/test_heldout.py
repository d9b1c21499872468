"""The held-out gate: the real model, trained once per session on content/nlu, on tests/data/nlu_heldout.

Three held-out sets, all written separately from the training data and never trained on
(``tests/data/nlu_heldout/README.md`` tells their story):

- **situational** (the first set): written to be hard — unusual situations and wordings. Its
  misses have been read while deciding what to write, so its figures flatter somewhat.
- **blind** (2026-12-05): typical messages, by writers who saw neither the training data nor
  another set, from the intent table alone; nobody has looked at its misses.
- **blind_hard** (2026-12-05): written the same blind way, but to be hard like the first set:
  goals implied by situations, unusual wordings. The honest measure of the hard tail.

Floors that today's model clears with a small margin are a regression gate on every set. The
targets of issue 5 are asserted where the model reaches them and reported (not strict) where it
does not yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows.text import fold
from nlu.data import read_path
from nlu.evaluation import Evaluation, evaluate

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "nlu_heldout"
TRAINING = Path(__file__).resolve().parents[2] / "content" / "nlu"
SETS = ("situational", "blind", "blind_hard")

FLOORS = {
    "situational": {"fi": 0.92, "sv": 0.87, "en": 0.91, "out_of_scope": 0.91},
    "blind": {"fi": 0.96, "sv": 0.97, "en": 0.95, "out_of_scope": 0.97},
    "blind_hard": {"fi": 0.935, "sv": 0.955, "en": 0.95, "out_of_scope": 0.905},
}
TARGETS = {"fi": 0.95, "sv": 0.92, "en": 0.92, "out_of_scope": 0.90}
REACHED = {
    "situational": ("en", "out_of_scope"),
    "blind": ("fi", "sv", "en", "out_of_scope"),
    "blind_hard": ("fi", "sv", "en", "out_of_scope"),
}
"""Where the model clears the target with some room."""
LANGUAGE_ID_TARGET = 0.97


@pytest.fixture(scope="module")
def heldout(nlu_model: Any) -> dict[str, Evaluation]:
    return {name: evaluate(nlu_model, read_path(HELDOUT / name).examples) for name in SETS}


def _figure(evaluation: Evaluation, key: str) -> float:
    value = evaluation.out_of_scope_recall if key == "out_of_scope" else evaluation.language_accuracy(key)
    assert value is not None, f"no {key} examples"
    return value


@pytest.mark.parametrize(("name", "key"), [(name, key) for name in SETS for key in FLOORS[name]])
def test_figures_do_not_fall_below_the_floor(heldout: dict[str, Evaluation], name: str, key: str) -> None:
    value = _figure(heldout[name], key)
    assert value >= FLOORS[name][key], f"{name} {key}: {value:.1%}"


@pytest.mark.parametrize(("name", "key"), [(name, key) for name in SETS for key in REACHED[name]])
def test_issue_targets_where_reached(heldout: dict[str, Evaluation], name: str, key: str) -> None:
    value = _figure(heldout[name], key)
    assert value >= TARGETS[key], f"{name} {key}: {value:.1%}"


@pytest.mark.xfail(reason="issue 5 target not reached on this set yet: see bench/nlu_bench.py", strict=False)
@pytest.mark.parametrize(("name", "key"), [(name, key) for name in SETS for key in TARGETS if key not in REACHED[name]])
def test_issue_targets_not_reached_yet(heldout: dict[str, Evaluation], name: str, key: str) -> None:
    value = _figure(heldout[name], key)
    assert value >= TARGETS[key], f"{name} {key}: {value:.1%}"


@pytest.mark.parametrize("name", SETS)
def test_language_id_on_messages_of_three_or_more_words(heldout: dict[str, Evaluation], name: str) -> None:
    for language, (correct, total) in heldout[name].language_correct.items():
        assert correct / total >= LANGUAGE_ID_TARGET, f"{name} {language}: {correct}/{total}"


def test_both_sets_cover_every_intent_in_every_language() -> None:
    training = read_path(TRAINING).examples
    expected = {(e.language, e.intent) for e in training}
    for name in SETS:
        found = {(e.language, e.intent) for e in read_path(HELDOUT / name).examples}
        assert expected <= found, f"{name} lacks {sorted(expected - found)[:5]}"


def test_no_held_out_sentence_is_also_a_training_example() -> None:
    """A sentence in both sets measures memory, not understanding: the held-out figures would flatter."""
    training = {fold(example.text) for example in read_path(TRAINING).examples}
    shared = sorted(example.text for example in read_path(HELDOUT).examples if fold(example.text) in training)
    assert not shared, f"{len(shared)} held-out sentences are also in content/nlu, e.g. {shared[:5]}"
