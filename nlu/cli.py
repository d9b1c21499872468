"""``opastin nlu train|parse|test``: the NLU's commands, in the same shapes as Rasa's.

``bot/cli.py`` calls ``add_commands(subparsers)``; each handler is ``(args, settings=None) -> int``
and is stored as ``func``. Paths: ``--model`` and ``--data`` if given, else the settings'
``nlu_model_path`` and ``content_dir/nlu`` when the bot passes its settings, else ``var/nlu-model.pkl``
and ``content/nlu`` under the repository root. ``python -m nlu.cli`` runs the same commands alone.

    opastin nlu train [--data DIR] [--model PATH]
    opastin nlu parse [--lang fi|sv|en]          stdin lines → one Rasa /model/parse JSON per line
    opastin nlu test FILE_OR_DIR [--min-accuracy X]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from flows.model import LANGUAGES
from nlu.data import read_path
from nlu.errors import NLUError
from nlu.evaluation import evaluate, format_evaluation
from nlu.interpreter import to_rasa_json
from nlu.model import HELSINKI, NLUModel, load_or_train, train

__all__ = ["add_commands", "main", "to_rasa_json"]

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
DEFAULT_MODEL: Final = REPO_ROOT / "var" / "nlu-model.pkl"
DEFAULT_DATA: Final = REPO_ROOT / "content" / "nlu"


def add_commands(subparsers: Any) -> None:
    """Add ``nlu`` with its ``train``, ``parse`` and ``test`` sub-commands to an argparse sub-parser set."""
    nlu = subparsers.add_parser("nlu", help="train, try and test the built-in NLU")
    commands = nlu.add_subparsers(dest="nlu_command", metavar="ACTION", required=True)

    def paths(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--model", type=Path, help=f"model file (default: {DEFAULT_MODEL})")
        parser.add_argument("--data", type=Path, help=f"training data folder (default: {DEFAULT_DATA})")

    train_parser = commands.add_parser("train", help="train on the Rasa-format data and save the model")
    paths(train_parser)
    train_parser.set_defaults(func=cmd_train)

    parse_parser = commands.add_parser(
        "parse", help="read messages from stdin, one per line; print one Rasa /model/parse JSON per line"
    )
    paths(parse_parser)
    parse_parser.add_argument("--lang", choices=LANGUAGES, help="the conversation's language (a hint)")
    parse_parser.set_defaults(func=cmd_parse)

    test_parser = commands.add_parser(
        "test", help="accuracy, per-intent precision/recall/F1 and confusions on labelled Rasa-format examples"
    )
    paths(test_parser)
    test_parser.add_argument("examples", type=Path, metavar="FILE_OR_DIR", help="a Rasa NLU file or folder")
    test_parser.add_argument(
        "--min-accuracy", type=float, metavar="X", help="exit 1 below this accuracy (0.9 or 90 both mean 90 %%)"
    )
    test_parser.set_defaults(func=cmd_test)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nlu.cli nlu train`` and so on, without the bot."""
    parser = argparse.ArgumentParser(prog="nlu")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except NLUError as exc:
        print(f"nlu: error: {exc}", file=sys.stderr)
        return 1


def cmd_train(args: argparse.Namespace, settings: object = None) -> int:
    """Train the built-in NLU with a progress bar and save it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    data_dir, model_path = _paths(args, settings)
    started = time.perf_counter()
    with Progress(TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task("training", total=1.0)

        def report(stage: str, fraction: float) -> None:
            progress.update(task, description=stage, completed=fraction)

        model = train(data_dir, progress=report)
    model.save(model_path)
    elapsed = time.perf_counter() - started
    metrics = model.metrics
    print(
        f"trained on {int(metrics.get('examples', 0))} examples of {len(model.intents)} intents "
        f"in {elapsed:.1f} s; dev-split accuracy {metrics.get('dev_accuracy', 0.0):.1%}, "
        f"fallback below {model.calibration.threshold:.2f}; saved {model_path}"
    )
    return 0


def cmd_parse(args: argparse.Namespace, settings: object = None) -> int:
    """Parse stdin line by line and print Rasa-shaped JSON lines."""
    model = _model(args, settings)
    for line in sys.stdin:
        text = line.rstrip("\n")
        parsed = model.parse(text, args.lang, datetime.now(HELSINKI))
        print(json.dumps(to_rasa_json(parsed), ensure_ascii=False), flush=True)
    return 0


def cmd_test(args: argparse.Namespace, settings: object = None) -> int:
    """Report how well the model labels the examples; exit 1 below ``--min-accuracy``."""
    examples = read_path(args.examples).examples
    if not examples:
        raise NLUError(f"{args.examples}: no labelled examples")
    model = _model(args, settings)
    evaluation = evaluate(model, examples, datetime.now(HELSINKI))
    print(format_evaluation(evaluation))
    if args.min_accuracy is not None:
        wanted = args.min_accuracy / 100 if args.min_accuracy > 1 else args.min_accuracy
        if evaluation.accuracy < wanted:
            print(f"accuracy {evaluation.accuracy:.1%} is below the minimum {wanted:.1%}", file=sys.stderr)
            return 1
    return 0


def _paths(args: argparse.Namespace, settings: object) -> tuple[Path, Path]:
    content_dir = getattr(settings, "content_dir", None)
    data_dir = args.data or (Path(content_dir) / "nlu" if content_dir is not None else DEFAULT_DATA)
    model_path = args.model or getattr(settings, "nlu_model_path", None) or DEFAULT_MODEL
    return Path(data_dir), Path(model_path)


def _model(args: argparse.Namespace, settings: object) -> NLUModel:
    data_dir, model_path = _paths(args, settings)
    return load_or_train(data_dir, model_path)


if __name__ == "__main__":
    raise SystemExit(main())
