"""Benchmark of the built-in NLU on the held-out set, against the targets of issue 5.

Prints per-language intent accuracy, out_of_scope recall, in-scope accuracy, language-id accuracy
on held-out messages of three or more words (no hint given), train time, model load time, parse
latency p50/p99 (single-threaded, warm) and memory (RSS growth of a fresh process that imports the
NLU and loads the model, and the model's own share). With ``--rasa-url`` the same figures for a
running Rasa server stand beside ours (``bench/rasa_parity.sh`` starts one).

    python bench/nlu_bench.py [--data content/nlu] [--heldout tests/data/nlu_heldout]
                              [--model FILE (skip training)] [--rasa-url http://127.0.0.1:5005]

A held-out folder with sets in sub-folders (``situational/fi/...``, ``blind/fi/...``) gets a column
per set and one for all of them. Training never sees the held-out sets; nothing here tunes anything.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.model import LANGUAGES  # noqa: E402
from nlu.data import Example, read_path  # noqa: E402
from nlu.evaluation import Evaluation, evaluate  # noqa: E402
from nlu.interpreter import Interpreter, RasaInterpreter  # noqa: E402
from nlu.model import HELSINKI, load, train  # noqa: E402

TARGETS: Final = {
    "accuracy fi": 0.95,
    "accuracy sv": 0.92,
    "accuracy en": 0.92,
    "out_of_scope recall": 0.90,
    "language id (3+ words)": 0.97,
}
LATENCY_PASSES: Final = 3
NOW: Final = datetime(2025, 12, 5, 14, 0, tzinfo=HELSINKI)

_MEMORY_PROBE: Final = """
import gc, sys, tracemalloc
sys.path.insert(0, sys.argv[2])
traced = sys.argv[3] == "traced"
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
base = rss()
import nlu.model
imported = rss()
if traced:
    tracemalloc.start()
model = nlu.model.load(sys.argv[1])
for text in ("moi", "muistuta mua huomenna klo 9", "how do I register as a jobseeker", "jag har inga bankkoder"):
    model.parse(text, "fi")
current = tracemalloc.get_traced_memory()[0] if traced else 0
tracemalloc.stop()
gc.collect()
print(base, imported, rss(), current)
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "content" / "nlu")
    parser.add_argument("--heldout", type=Path, default=ROOT / "tests" / "data" / "nlu_heldout")
    parser.add_argument("--model", type=Path, help="use this saved model instead of training one")
    parser.add_argument("--rasa-url", help="also measure a running Rasa server's /model/parse")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)

    sets = _held_out_sets(args.heldout)
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            model_path, train_seconds = args.model, None
        else:
            started = time.perf_counter()
            model = train(args.data)
            train_seconds = time.perf_counter() - started
            model_path = Path(tmp) / "nlu-model.pkl"
            model.save(model_path)
        started = time.perf_counter()
        model = load(model_path)
        load_seconds = time.perf_counter() - started
        memory = _memory(model_path)

    columns: dict[str, dict[str, Any]] = {name: _figures(model, examples) for name, examples in sets.items()}
    columns[next(reversed(columns))].update(
        {
            "train time (s)": train_seconds,
            "load time (s)": load_seconds,
            "memory: process growth, import + load (MB)": memory["process"],
            "memory: model after load, tracemalloc (MB)": memory["model"],
        }
    )
    if args.rasa_url:
        rasa = RasaInterpreter(args.rasa_url, fallback=model, timeout=30.0)
        for name, examples in sets.items():
            columns[f"rasa {name}"] = _figures(rasa, examples, raw=_raw_rasa(args.rasa_url))
        rasa.close()

    if args.json:
        print(json.dumps(columns, indent=2))
    else:
        _print_table(columns, {name: len(examples) for name, examples in sets.items()})
    return 0


def _held_out_sets(root: Path) -> dict[str, list[Example]]:
    """``{set: examples}`` for each set folder under ``root``, then ``all``; or ``{"built-in": ...}``."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name not in LANGUAGES) if root.is_dir() else []
    if not folders:
        return {"built-in": list(read_path(root).examples)}
    sets = {folder.name: list(read_path(folder).examples) for folder in folders}
    sets["all"] = [example for examples in sets.values() for example in examples]
    return sets


def _figures(
    interpreter: Interpreter, examples: Sequence[Example], raw: Callable[[str], None] | None = None
) -> dict[str, Any]:
    evaluation = evaluate(interpreter, examples, NOW)
    figures: dict[str, Any] = {}
    for language in LANGUAGES:
        figures[f"accuracy {language}"] = evaluation.language_accuracy(language)
    figures["accuracy all"] = evaluation.accuracy
    figures["out_of_scope recall"] = evaluation.out_of_scope_recall
    figures["in-scope accuracy"] = evaluation.in_scope_accuracy
    figures["language id (3+ words)"] = _language_id(evaluation)
    latencies = _latencies(lambda text, lang: interpreter.parse(text, lang, NOW), examples)
    figures["parse p50 (ms)"] = _percentile(latencies, 50)
    figures["parse p99 (ms)"] = _percentile(latencies, 99)
    if raw is not None:
        raw_latencies = _latencies(lambda text, lang: raw(text), examples, passes=1)
        figures["server only p50 (ms)"] = _percentile(raw_latencies, 50)
        figures["server only p99 (ms)"] = _percentile(raw_latencies, 99)
    return figures


def _language_id(evaluation: Evaluation) -> float | None:
    correct = sum(c for c, _ in evaluation.language_correct.values())
    total = sum(t for _, t in evaluation.language_correct.values())
    return correct / total if total else None


def _latencies(
    parse: Callable[[str, str | None], object], examples: Sequence[Example], passes: int = LATENCY_PASSES
) -> list[float]:
    for example in examples[:50]:
        parse(example.text, example.language)  # warm caches
    timings: list[float] = []
    for _ in range(passes):
        for example in examples:
            started = time.perf_counter()
            parse(example.text, example.language)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(percent / 100 * (len(ordered) - 1))))
    return ordered[index]


def _memory(model_path: Path) -> dict[str, float]:
    """RSS growth of a fresh interpreter importing the NLU and loading the model; the model's own bytes.

    Two processes: tracemalloc's own bookkeeping grows the RSS it would be measuring.
    """

    def probe(mode: str) -> list[int]:
        command = [sys.executable, "-c", _MEMORY_PROBE, str(model_path), str(ROOT), mode]
        return [int(x) for x in subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()]

    base, _imported, loaded, _ = probe("rss")
    current = probe("traced")[3]
    return {"process": (loaded - base) / 1e6, "model": current / 1e6}


def _raw_rasa(url: str) -> Callable[[str], None]:
    import httpx

    client = httpx.Client(timeout=30.0)

    def parse(text: str) -> None:
        client.post(f"{url.rstrip('/')}/model/parse", json={"text": text}).raise_for_status()

    return parse


def _print_table(columns: dict[str, dict[str, Any]], counts: dict[str, int]) -> None:
    names = list(columns)
    rows = list(dict.fromkeys(key for figures in columns.values() for key in figures))
    width = max(len(r) for r in rows) + 2
    cell = max(12, *(len(n) + 2 for n in names))
    print("held-out messages: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    print(f"{'':<{width}}" + "".join(f"{n:>{cell}}" for n in names) + f"{'target':>12}")
    for row in rows:
        cells = "".join(f"{_cell(row, columns[n].get(row)):>{cell}}" for n in names)
        target = TARGETS.get(row)
        print(f"{row:<{width}}{cells}{(f'≥{target:.0%}' if target else ''):>12}")


def _cell(row: str, value: Any) -> str:
    if value is None:
        return "-"
    if "(ms)" in row or "(s)" in row or "(MB)" in row:
        return f"{value:.2f}"
    return f"{value:.1%}"


if __name__ == "__main__":
    raise SystemExit(main())
