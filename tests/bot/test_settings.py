"""bot/settings.py: precedence env > file > defaults, cast errors, secrets kept out of repr."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.errors import SettingsError
from bot.settings import ROOT, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings(environ={"OPASTIN_CONTENT_DIR": str(tmp_path)})
    assert settings.settings_file is None
    assert settings.content_dir == tmp_path
    assert settings.database_url == f"sqlite:///{ROOT / 'var' / 'opastin.sqlite3'}"
    assert settings.nlu_backend == "builtin"
    assert settings.web_port == 8000
    assert settings.timezone == ZoneInfo("Europe/Helsinki")
    assert settings.telegram_token is None
    assert settings.telegram_mode == "polling"


def test_the_repository_settings_file_loads() -> None:
    settings = load_settings(environ={})
    assert settings.settings_file == ROOT / "content" / "settings.yml"
    assert settings.web_host == "127.0.0.1"


def test_data_dir_moves_the_default_database(tmp_path: Path) -> None:
    settings = load_settings(environ={"OPASTIN_DATA_DIR": str(tmp_path), "OPASTIN_CONTENT_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'opastin.sqlite3'}"
    assert settings.nlu_model_path == tmp_path / "nlu-model.pkl"


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "web:\n  host: 0.0.0.0\n  port: 9000\nnlu:\n  backend: rasa\n")
    from_file = load_settings(path, environ={})
    assert (from_file.web_host, from_file.web_port, from_file.nlu_backend) == ("0.0.0.0", 9000, "rasa")
    overridden = load_settings(path, environ={"OPASTIN_WEB_PORT": "9100", "OPASTIN_NLU_BACKEND": "builtin"})
    assert (overridden.web_host, overridden.web_port, overridden.nlu_backend) == ("0.0.0.0", 9100, "builtin")


def test_an_empty_environment_variable_does_not_override(tmp_path: Path) -> None:
    path = write(tmp_path, "web:\n  port: 9000\n")
    assert load_settings(path, environ={"OPASTIN_WEB_PORT": ""}).web_port == 9000


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"OPASTIN_WEB_PORT": "eighty"}, "setting web.port (environment variable OPASTIN_WEB_PORT) = 'eighty'"),
        ({"OPASTIN_WEB_PORT": "70000"}, "= '70000': expected a port number"),
        ({"OPASTIN_NLU_BACKEND": "spacy"}, "= 'spacy': expected one of builtin, rasa"),
        ({"OPASTIN_TIMEZONE": "Mars/Olympus"}, "setting timezone (environment variable OPASTIN_TIMEZONE)"),
        ({"OPASTIN_NLU_RASA_URL": "localhost:5005"}, "expected an http:// or https:// URL"),
        ({"OPASTIN_DATABASE_URL": "not a url"}, "setting database.url"),
        ({"OPASTIN_MAX_MESSAGE_CHARS": "0"}, "expected a positive whole number"),
    ],
)
def test_cast_errors_name_the_key_the_source_and_the_value(
    tmp_path: Path, environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"OPASTIN_CONTENT_DIR": str(tmp_path), **environ})
    assert expected in str(caught.value)


def test_cast_error_from_the_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "web:\n  port: [1, 2]\n")
    with pytest.raises(SettingsError, match=r"setting web.port \(.*settings.yml: web.port\) = \[1, 2\]"):
        load_settings(path, environ={})


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "web:\n  port: 80\n  host: [unclosed\n")
    with pytest.raises(SettingsError, match=r"settings.yml:\d+: not valid YAML"):
        load_settings(path, environ={})


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.yml", environ={})


def test_secrets_come_from_the_environment_only_and_stay_out_of_repr(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram:\n  webhook_secret: from-file\nrest:\n  token: from-file\n")
    settings = load_settings(
        path,
        environ={
            "TELEGRAM_BOT_TOKEN": "123:telegram-secret",
            "OPASTIN_REST_TOKEN": "rest-secret",
            "OPASTIN_TELEGRAM_WEBHOOK_SECRET": "hook-secret",
            "OPASTIN_DATABASE_URL": "postgresql+psycopg://opastin:db-secret@127.0.0.1/opastin",
        },
    )
    assert settings.telegram_token == "123:telegram-secret"
    assert settings.rest_token == "rest-secret"
    assert settings.telegram_webhook_secret == "hook-secret"
    text = repr(settings)
    for secret in ("telegram-secret", "rest-secret", "hook-secret", "db-secret"):
        assert secret not in text
    assert "db-secret" not in settings.database_url_masked
    assert settings.database_url_masked == "postgresql+psycopg://opastin:***@127.0.0.1/opastin"

    file_only = load_settings(path, environ={})
    assert file_only.rest_token is None and file_only.telegram_webhook_secret is None


def test_a_database_password_in_the_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: postgresql+psycopg://opastin:hunter2@127.0.0.1/opastin\n")
    with pytest.raises(SettingsError, match="OPASTIN_DATABASE_URL") as caught:
        load_settings(path, environ={})
    assert "hunter2" not in str(caught.value)


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(environ={"OPASTIN_CONTENT_DIR": str(tmp_path)})
    with pytest.raises(AttributeError):
        settings.web_port = 1  # type: ignore[misc]


def test_a_relative_sqlite_path_is_relative_to_the_project(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: sqlite:///var/other.sqlite3\n")
    assert load_settings(path, environ={}).database_url == f"sqlite:///{ROOT / 'var' / 'other.sqlite3'}"
    absolute = load_settings(path, environ={"OPASTIN_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert absolute.database_url == f"sqlite:///{tmp_path}/x.db"
