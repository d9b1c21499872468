"""The held-out gate: the real model, trained once per session on content/nlu, on tests/data/nlu_heldout.

The held-out set is written separately from the training data and never trained on. Two kinds of
assertions: floors that today's model clears with a small margin (a regression gate: a change that
loses accuracy fails the suite), and the targets of issue 5, expected to fail until the training
data carries the model there (not strict, so reaching them is reported, not an error).
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

FLOORS = {"fi": 0.80, "sv": 0.83, "en": 0.86}
OUT_OF_SCOPE_RECALL_FLOOR = 0.84
TARGETS = {"fi": 0.95, "sv": 0.92, "en": 0.92}
OUT_OF_SCOPE_RECALL_TARGET = 0.90
LANGUAGE_ID_TARGET = 0.97


@pytest.fixture(scope="module")
def heldout(nlu_model: Any) -> Evaluation:
    return evaluate(nlu_model, read_path(HELDOUT).examples)


@pytest.mark.parametrize("language", sorted(FLOORS))
def test_accuracy_does_not_fall_below_the_floor(heldout: Evaluation, language: str) -> None:
    accuracy = heldout.language_accuracy(language)
    assert accuracy is not None and accuracy >= FLOORS[language], f"{language}: {accuracy:.1%}"


def test_out_of_scope_recall_does_not_fall_below_the_floor(heldout: Evaluation) -> None:
    assert heldout.out_of_scope_recall is not None
    assert heldout.out_of_scope_recall >= OUT_OF_SCOPE_RECALL_FLOOR


def test_language_id_on_messages_of_three_or_more_words(heldout: Evaluation) -> None:
    for language, (correct, total) in heldout.language_correct.items():
        assert correct / total >= LANGUAGE_ID_TARGET, f"{language}: {correct}/{total}"


@pytest.mark.xfail(reason="issue 5 targets not reached yet: see bench/nlu_bench.py for the figures", strict=False)
@pytest.mark.parametrize("language", sorted(TARGETS))
def test_issue_target_accuracy(heldout: Evaluation, language: str) -> None:
    accuracy = heldout.language_accuracy(language)
    assert accuracy is not None and accuracy >= TARGETS[language], f"{language}: {accuracy:.1%}"


@pytest.mark.xfail(reason="issue 5 target not reached yet: see bench/nlu_bench.py for the figures", strict=False)
def test_issue_target_out_of_scope_recall(heldout: Evaluation) -> None:
    assert heldout.out_of_scope_recall is not None
    assert heldout.out_of_scope_recall >= OUT_OF_SCOPE_RECALL_TARGET


def test_no_held_out_sentence_is_also_a_training_example() -> None:
    """A sentence in both sets measures memory, not understanding: the held-out figures would flatter."""
    training = {fold(example.text) for example in read_path(TRAINING).examples}
    shared = sorted(example.text for example in read_path(HELDOUT).examples if fold(example.text) in training)
    assert not shared, f"{len(shared)} held-out sentences are also in content/nlu, e.g. {shared[:5]}"
