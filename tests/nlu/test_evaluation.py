"""nlu.evaluation: accuracy, per-intent scores and confusions over labelled examples."""

from __future__ import annotations

from datetime import datetime

from flows.model import OUT_OF_SCOPE, ParsedMessage, SourcePos
from nlu.data import Example
from nlu.evaluation import evaluate, format_evaluation


class TableInterpreter:
    """An interpreter double: a fixed answer per text (the seam is a one-method Protocol)."""

    def __init__(self, answers: dict[str, tuple[str, str]]) -> None:
        self.answers = answers

    def parse(self, text: str, lang_hint: str | None = None, now: datetime | None = None) -> ParsedMessage:
        intent, language = self.answers[text]
        return ParsedMessage(text=text, intent=intent, confidence=1.0, language=language)


def example(text: str, intent: str, language: str) -> Example:
    return Example(text=text, intent=intent, language=language, source=SourcePos("x.yml", 1))


def test_scores() -> None:
    examples = [
        example("moi", "greet", "fi"),
        example("hei vaan sulle", "greet", "fi"),
        example("kerro vitsi nyt heti", "out_of_scope", "fi"),
        example("what is the weather", "out_of_scope", "en"),
        example("hello there friend", "greet", "en"),
    ]
    interpreter = TableInterpreter(
        {
            "moi": ("greet", "fi"),
            "hei vaan sulle": ("goodbye", "fi"),
            "kerro vitsi nyt heti": (OUT_OF_SCOPE, "fi"),
            "what is the weather": ("greet", "sv"),
            "hello there friend": ("greet", "en"),
        }
    )

    evaluation = evaluate(interpreter, examples)

    assert (evaluation.correct, evaluation.total) == (3, 5)
    assert evaluation.by_language == {"fi": (2, 3), "en": (1, 2)}
    assert evaluation.language_accuracy("fi") == 2 / 3
    assert evaluation.out_of_scope_recall == 0.5
    assert evaluation.in_scope_accuracy == 2 / 3
    assert evaluation.language_correct == {"fi": (2, 2), "en": (1, 2)}
    greet = next(s for s in evaluation.per_intent if s.intent == "greet")
    assert (greet.precision, greet.recall, greet.support) == (2 / 3, 2 / 3, 3)
    assert evaluation.confusions == (("greet", "goodbye", 1), ("out_of_scope", "greet", 1))

    report = format_evaluation(evaluation)
    assert report.startswith("accuracy 60.0% (3/5)")
    assert "out_of_scope recall 50.0%" in report
    assert "1  greet → goodbye" in report
