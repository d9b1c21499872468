"""How well an interpreter labels a set of examples: accuracy, per-intent P/R/F1, confusions.

Used by ``opastin nlu test``, the held-out test gate and ``bench/``. Each example is parsed with its
folder's language as the hint, as in a conversation whose language is known.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from flows.model import LANGUAGES, OUT_OF_SCOPE
from nlu.data import Example
from nlu.interpreter import Interpreter

CONFUSIONS_SHOWN: Final = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentScores:
    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """The outcome of labelling ``total`` examples."""

    total: int
    correct: int
    by_language: dict[str, tuple[int, int]]
    """language → (correct, total)."""
    per_intent: tuple[IntentScores, ...]
    confusions: tuple[tuple[str, str, int], ...]
    """(expected, predicted, count), most frequent first."""
    out_of_scope_recall: float | None
    """Share of ``out_of_scope`` examples that parsed as ``out_of_scope``; None without any."""
    in_scope_accuracy: float | None
    """Accuracy on the other examples."""
    language_correct: dict[str, tuple[int, int]]
    """language → (language-id correct, total), on messages of three or more words, no hint given."""

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def language_accuracy(self, language: str) -> float | None:
        correct, total = self.by_language.get(language, (0, 0))
        return correct / total if total else None


def evaluate(interpreter: Interpreter, examples: Sequence[Example], now: datetime | None = None) -> Evaluation:
    """Parse every example with its language as the hint and compare intents."""
    pairs: list[tuple[Example, str]] = []
    language_hits: dict[str, list[int]] = {}
    for example in examples:
        parsed = interpreter.parse(example.text, example.language, now)
        pairs.append((example, parsed.intent))
        if example.language in LANGUAGES and len(example.text.split()) >= 3:
            guess = interpreter.parse(example.text, None, now).language
            hits = language_hits.setdefault(example.language, [0, 0])
            hits[0] += guess == example.language
            hits[1] += 1
    by_language: dict[str, tuple[int, int]] = {}
    for example, predicted in pairs:
        key = example.language or "-"
        correct, total = by_language.get(key, (0, 0))
        by_language[key] = (correct + (predicted == example.intent), total + 1)
    oos = [predicted == OUT_OF_SCOPE for example, predicted in pairs if example.intent == OUT_OF_SCOPE]
    in_scope = [predicted == example.intent for example, predicted in pairs if example.intent != OUT_OF_SCOPE]
    return Evaluation(
        total=len(pairs),
        correct=sum(predicted == example.intent for example, predicted in pairs),
        by_language=by_language,
        per_intent=_per_intent(pairs),
        confusions=tuple(
            (expected, predicted, count)
            for (expected, predicted), count in Counter(
                (example.intent, predicted) for example, predicted in pairs if predicted != example.intent
            ).most_common()
        ),
        out_of_scope_recall=sum(oos) / len(oos) if oos else None,
        in_scope_accuracy=sum(in_scope) / len(in_scope) if in_scope else None,
        language_correct={k: (v[0], v[1]) for k, v in language_hits.items()},
    )


def _per_intent(pairs: Sequence[tuple[Example, str]]) -> tuple[IntentScores, ...]:
    expected = Counter(example.intent for example, _ in pairs)
    predicted = Counter(p for _, p in pairs)
    hits = Counter(example.intent for example, p in pairs if p == example.intent)
    scores = []
    for intent in sorted(set(expected) | set(predicted)):
        precision = hits[intent] / predicted[intent] if predicted[intent] else 0.0
        recall = hits[intent] / expected[intent] if expected[intent] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append(IntentScores(intent=intent, precision=precision, recall=recall, f1=f1, support=expected[intent]))
    return tuple(scores)


def format_evaluation(evaluation: Evaluation, confusions: int = CONFUSIONS_SHOWN) -> str:
    """A plain-text report: overall and per-language accuracy, the per-intent table, top confusions."""
    lines = [f"accuracy {evaluation.accuracy:.1%} ({evaluation.correct}/{evaluation.total})"]
    for language, (correct, total) in sorted(evaluation.by_language.items()):
        lines.append(f"  {language}: {correct / total:.1%} ({correct}/{total})")
    if evaluation.out_of_scope_recall is not None:
        lines.append(f"out_of_scope recall {evaluation.out_of_scope_recall:.1%}")
    if evaluation.in_scope_accuracy is not None:
        lines.append(f"in-scope accuracy {evaluation.in_scope_accuracy:.1%}")
    for language, (correct, total) in sorted(evaluation.language_correct.items()):
        lines.append(f"language id {language} (3+ words): {correct / total:.1%} ({correct}/{total})")
    width = max((len(s.intent) for s in evaluation.per_intent), default=6)
    lines.append("")
    lines.append(f"{'intent':<{width}}  precision  recall     f1  support")
    for s in evaluation.per_intent:
        lines.append(f"{s.intent:<{width}}  {s.precision:9.2f}  {s.recall:6.2f}  {s.f1:5.2f}  {s.support:7d}")
    if evaluation.confusions:
        lines.append("")
        lines.append("most confused (expected → predicted):")
        for expected, predicted, count in evaluation.confusions[:confusions]:
            lines.append(f"  {count:4d}  {expected} → {predicted}")
    return "\n".join(lines)
