"""Cross-validation of the built-in NLU on its own training data, for people who write that data.

The held-out set (``bench/nlu_bench.py``) is the measure of record, and looking at its mistakes to
decide what to write would slowly turn it into training data. This tool answers the writer's
question instead — which intents does the model confuse on phrasings it has not seen? — from the
training data alone: k stratified folds; for each, the model is trained exactly as ``opastin nlu
train`` trains it on the other folds, minus their near-twins of the fold's examples (a writer's
variants of one sentence would otherwise test memory, not understanding), and labels the fold.

    python bench/nlu_cv.py [--data content/nlu] [--folds 4] [--language fi] [--per-intent]

Prints per-language accuracy, out_of_scope recall, in-scope accuracy, the most confused pairs and,
with ``--per-intent``, each intent's recall per language, worst first.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.model import LANGUAGES, OUT_OF_SCOPE  # noqa: E402
from nlu.data import Example, read_path  # noqa: E402
from nlu.features import Corpus, Vocabulary, analyze  # noqa: E402
from nlu.model import NEAR_DUPLICATE, closest_similarity, train_on  # noqa: E402

SEED: Final = 7
CONFUSIONS_SHOWN: Final = 25


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "content" / "nlu")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--language", choices=LANGUAGES, help="only report (and test) this language")
    parser.add_argument("--per-intent", action="store_true", help="each intent's recall, worst first")
    parser.add_argument("--errors", action="store_true", help="print every misclassified example")
    args = parser.parse_args(argv)

    data = read_path(args.data)
    vocabulary = Vocabulary.from_data(data)
    folds = _folds(data.examples, args.folds)
    outcomes: list[tuple[Example, str]] = []
    started = time.perf_counter()
    for number, fold in enumerate(folds, 1):
        tested = [data.examples[i] for i in fold if args.language in (None, data.examples[i].language)]
        if not tested:
            continue
        rest = [e for i, e in enumerate(data.examples) if i not in fold]
        kept = _without_twins(rest, tested, vocabulary)
        model = train_on(replace(data, examples=tuple(kept)), digest=f"cv-fold-{number}")
        outcomes.extend((e, model.parse(e.text, e.language).intent) for e in tested)
        print(
            f"fold {number}/{len(folds)}: trained on {len(kept)} ({len(rest) - len(kept)} twins left out), "
            f"tested {len(tested)}",
            file=sys.stderr,
        )
    _report(outcomes, args.per_intent, args.errors)
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


def _folds(examples: Sequence[Example], k: int) -> list[set[int]]:
    """k folds, each holding about 1/k of every (language, intent) group."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, example in enumerate(examples):
        groups.setdefault((example.language or "-", example.intent), []).append(i)
    rng = random.Random(SEED)
    folds: list[set[int]] = [set() for _ in range(k)]
    for key in sorted(groups):
        members = groups[key][:]
        rng.shuffle(members)
        for j, index in enumerate(members):
            folds[j % k].add(index)
    return folds


def _without_twins(rest: Sequence[Example], tested: Sequence[Example], vocabulary: Vocabulary) -> list[Example]:
    corpus = Corpus([analyze(e.text, e.language, vocabulary) for e in (*rest, *tested)])
    closest = closest_similarity(
        corpus,
        [(i, e.language) for i, e in enumerate(rest)],
        [(len(rest) + i, e.language) for i, e in enumerate(tested)],
        vocabulary,
    )
    return [e for e, c in zip(rest, closest, strict=True) if c < NEAR_DUPLICATE]


def _report(outcomes: Sequence[tuple[Example, str]], per_intent: bool, errors: bool) -> None:
    print(f"{'':28}{'accuracy':>10}{'oos recall':>12}{'in-scope':>10}{'examples':>10}")
    for language in (*LANGUAGES, None):
        chosen = [(e, p) for e, p in outcomes if language in (None, e.language)]
        if not chosen:
            continue
        oos = [p == OUT_OF_SCOPE for e, p in chosen if e.intent == OUT_OF_SCOPE]
        inside = [p == e.intent for e, p in chosen if e.intent != OUT_OF_SCOPE]
        print(
            f"{language or 'all':28}{_share([p == e.intent for e, p in chosen]):>10}"
            f"{_share(oos):>12}{_share(inside):>10}{len(chosen):>10}"
        )
    confusions = Counter((e.language, e.intent, p) for e, p in outcomes if p != e.intent)
    print("\nmost confused (language: expected → predicted):")
    for (language, expected, predicted), count in confusions.most_common(CONFUSIONS_SHOWN):
        print(f"{count:6}  {language}: {expected} → {predicted}")
    if per_intent:
        print("\nrecall per intent, worst first:")
        totals: Counter[tuple[str | None, str]] = Counter()
        hits: Counter[tuple[str | None, str]] = Counter()
        for e, p in outcomes:
            totals[(e.language, e.intent)] += 1
            hits[(e.language, e.intent)] += p == e.intent
        for key in sorted(totals, key=lambda k: hits[k] / totals[k]):
            print(f"  {key[0]}  {key[1]:24}{hits[key] / totals[key]:>8.1%}  of {totals[key]}")
    if errors:
        print("\nmisclassified:")
        for e, p in sorted(outcomes, key=lambda o: (o[0].language or "", o[0].intent)):
            if p != e.intent:
                print(f"  {e.language}  {e.intent} → {p}: {e.text}")


def _share(flags: Sequence[bool]) -> str:
    return f"{sum(flags) / len(flags):.1%}" if flags else "-"


if __name__ == "__main__":
    raise SystemExit(main())
