"""bot/cli.py through ``main([...])``: exit statuses, messages, and no tracebacks for expected errors."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import Store, TranscriptEntry
from flows.model import Handoff, State
from tests.conftest import CONTENT_DIR


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> dict[str, str]:
    """The process environment the command reads, pointed into ``tmp_path``."""
    for name in ("OPASTIN_DATABASE_URL", "OPASTIN_DATA_DIR", "OPASTIN_CONTENT_DIR", "OPASTIN_WEB_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return environ


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for command in ("chat", "content", "db", "handoffs", "serve"):
        assert command in out


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2


def test_content_check_passes_on_the_shipped_content(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "check"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "flows" in out and "intents" in out


def test_content_check_lists_problems_with_file_and_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, broken)
    flow = broken / "flows" / "register_jobseeker.yml"
    flow.write_text(flow.read_text(encoding="utf-8").replace("next: identification", "next: nowhere", 1), "utf-8")
    (broken / "templates" / "sv" / "actions.j2").unlink()
    monkeypatch.setenv("OPASTIN_CONTENT_DIR", str(broken))
    assert main(["content", "check"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "flows/register_jobseeker.yml:" in err and "nowhere" in err
    assert "actions." in err and "sv" in err


def test_bad_nlu_data_is_reported_without_a_traceback(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, broken)
    (broken / "nlu" / "en" / "zz_broken.yml").write_text("nlu:\n- intent: greet\n  examples: [not, a, block]\n")
    monkeypatch.setenv("OPASTIN_CONTENT_DIR", str(broken))
    assert main(["content", "check"]) == 1
    err = capsys.readouterr().err
    assert "zz_broken.yml:" in err and "Traceback" not in err


def test_a_bad_setting_is_one_line_and_exit_1(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPASTIN_WEB_PORT", "eighty")
    assert main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("opastin: error: setting web.port")
    assert "'eighty'" in err and "Traceback" not in err


def test_db_upgrade_creates_the_schema(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert "at revision 0001" in capsys.readouterr().out
    assert main(["-q", "db", "upgrade"]) == 0  # twice is fine
    assert Path(env["OPASTIN_DATA_DIR"], "opastin.sqlite3").is_file()


def test_an_unreachable_database_is_a_message_not_a_traceback(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPASTIN_DATABASE_URL", "postgresql+psycopg://opastin:pw-123@127.0.0.1:1/opastin")
    assert main(["db", "upgrade"]) == 1
    assert main(["handoffs"]) == 1
    err = capsys.readouterr().err
    assert "is unavailable" in err
    assert "Traceback" not in err and "pw-123" not in err


def test_handoffs_lists_open_requests_and_closes_them(
    env: dict[str, str], now: datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(env["OPASTIN_DATABASE_URL"])
    store.save_turn(
        "telegram",
        "555",
        0,
        State(language="sv"),
        (
            TranscriptEntry(direction="in", text="ring mig på 040 1234567"),
            TranscriptEntry(direction="out", text="En handläggare kontaktar dig.", template="common.handoff_done"),
        ),
        [Handoff(topic="register_jobseeker", reason="asked")],
        now=now,
    )
    (request,) = store.handoffs()
    store.close()

    assert main(["handoffs"]) == 0
    out = capsys.readouterr().out
    assert f"#{request.id} 2025-03-04 10:00 [open] telegram:555 lang=sv topic=register_jobseeker reason=asked" in out
    assert "customer: ring mig på [PHONE]" in out
    assert "1234567" not in out

    assert main(["handoffs", "--close", str(request.id)]) == 0
    assert main(["handoffs"]) == 0
    assert "no open requests" in capsys.readouterr().out
    assert main(["handoffs", "--all"]) == 0
    assert "[closed]" in capsys.readouterr().out
    assert main(["handoffs", "--close", str(request.id)]) == 1
    assert "no open request with id" in capsys.readouterr().err


def test_options_before_and_after_the_command(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_file = tmp_path / "settings.yml"
    settings_file.write_text("web:\n  port: 70000\n", encoding="utf-8")
    assert main(["--settings", str(settings_file), "db", "upgrade"]) == 1
    assert main(["db", "upgrade", "--settings", str(settings_file)]) == 1
    assert capsys.readouterr().err.count("expected a port number") == 2
