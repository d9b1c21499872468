"""nlu.cli: train, parse and test commands, run through ``main`` as a user would."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from nlu.cli import DEFAULT_DATA, DEFAULT_MODEL, add_commands, main
from nlu.model import NLUModel


@pytest.fixture
def model_path(mini_model: NLUModel, tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    mini_model.save(path)
    return path


def test_train_saves_a_model_and_prints_the_time(
    mini_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "trained.pkl"
    assert main(["nlu", "train", "--data", str(mini_data), "--model", str(path)]) == 0
    out = capsys.readouterr().out
    assert path.exists()
    assert "trained on" in out and " s;" in out and str(path) in out


def test_parse_prints_one_rasa_json_per_line(
    mini_data: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("moi\n/set_reminder\nremind me tomorrow at 9\n"))
    assert main(["nlu", "parse", "--lang", "fi", "--data", str(mini_data), "--model", str(model_path)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["intent"]["name"] for line in lines] == ["greet", "set_reminder", "set_reminder"]
    assert set(lines[0]) == {"text", "intent", "intent_ranking", "entities", "language"}
    assert lines[2]["language"] == "en"
    assert lines[2]["entities"][0]["entity"] == "datetime"
    assert {"entity", "value", "start", "end"} <= set(lines[2]["entities"][0])


def test_test_reports_and_enforces_a_minimum(
    mini_data: Path, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = tmp_path / "en"
    examples.mkdir()
    (examples / "check.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello\n    - hey hey\n'
        "- intent: set_reminder\n  examples: |\n    - remind me tomorrow\n",
        encoding="utf-8",
    )
    common = ["--data", str(mini_data), "--model", str(model_path)]
    assert main(["nlu", "test", str(examples), *common]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accuracy 100.0% (3/3)")
    assert "precision  recall" in out

    assert main(["nlu", "test", str(examples / "check.yml"), "--min-accuracy", "90", *common]) == 0
    examples.joinpath("check.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: goodbye\n  examples: |\n    - hello\n', encoding="utf-8"
    )
    assert main(["nlu", "test", str(examples), "--min-accuracy", "0.5", *common]) == 1
    assert "below the minimum 50.0%" in capsys.readouterr().err


def test_bad_data_is_an_error_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yml").write_text("nlu:\n- intent: greet\n", encoding="utf-8")
    assert main(["nlu", "train", "--data", str(tmp_path), "--model", str(tmp_path / "m.pkl")]) == 1
    assert "bad.yml:2:" in capsys.readouterr().err


def test_add_commands_takes_the_bots_settings_for_paths(mini_data: Path, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["nlu", "train"])

    class Settings:
        content_dir = tmp_path / "content"
        nlu_model_path = tmp_path / "from-settings.pkl"

    Settings.content_dir.mkdir()
    (Settings.content_dir / "nlu").symlink_to(mini_data, target_is_directory=True)
    assert args.func(args, Settings()) == 0
    assert Settings.nlu_model_path.exists()


def test_defaults_are_under_the_repository() -> None:
    root = Path(__file__).resolve().parents[2]
    assert root / "var" / "nlu-model.pkl" == DEFAULT_MODEL
    assert root / "content" / "nlu" == DEFAULT_DATA
