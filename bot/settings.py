"""One frozen ``Settings`` for the whole process, read once by ``bot/cli.py`` and passed down.

Precedence, highest first (as Starlette's ``Config`` with ``env_prefix``):

1. ``OPASTIN_*`` environment variables (``OPASTIN_WEB_PORT`` overrides ``web.port``);
2. ``content/settings.yml`` (its ``office:`` section is content and is read by ``flows.loader``);
3. the defaults below.

Secrets (the Telegram token, the webhook secret, the REST bearer token, the database password) come
from the environment only and are hidden from ``repr``: a settings file is checked in, an
environment is not. ``environ`` is injectable so tests never touch ``os.environ``, and nothing is
read at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import SettingsError

ROOT: Final = Path(__file__).resolve().parents[1]
"""The project checkout: ``content/`` and ``var/`` are found beside ``bot/``."""
ENV_PREFIX: Final = "OPASTIN_"
SETTINGS_FILE: Final = "settings.yml"
DATABASE_FILE: Final = "opastin.sqlite3"
NLU_MODEL_FILE: Final = "nlu-model.pkl"  # a pickle of our own (nlu.model.NLUModel.save)

NluBackend = Literal["builtin", "rasa"]
TelegramMode = Literal["polling", "webhook"]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything configurable about one running Opastin."""

    content_dir: Path
    """Flows, templates, NLU data and ``settings.yml`` (``OPASTIN_CONTENT_DIR``)."""
    data_dir: Path
    """Where the default SQLite file and the trained NLU model live (``OPASTIN_DATA_DIR``)."""
    database_url: str = field(repr=False)
    """Any SQLAlchemy URL (``OPASTIN_DATABASE_URL``; ``database.url``); may hold a password, so it
    is shown only through ``database_url_masked``."""
    nlu_backend: NluBackend = "builtin"
    """``builtin`` (our own classifier) or ``rasa`` (a Rasa server at ``rasa_url``)."""
    rasa_url: str = "http://127.0.0.1:5005"
    nlu_model_path: Path
    """The trained built-in model; trained on first use when missing (``OPASTIN_NLU_MODEL_PATH``)."""
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Helsinki"))
    """The offices' clock: what "today" and "at 14.30" mean to a customer."""
    max_message_chars: int = 4000
    """Longer messages are refused with ``common.too_long`` before they reach the NLU."""
    telegram_token: str | None = field(default=None, repr=False)
    """From ``TELEGRAM_BOT_TOKEN`` only."""
    telegram_mode: TelegramMode = "polling"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    """From ``OPASTIN_TELEGRAM_WEBHOOK_SECRET`` only."""
    telegram_base_url: str | None = None
    """Bot API base URL, e.g. ``http://127.0.0.1:8081/bot`` for a fake API in tests."""
    rest_token: str | None = field(default=None, repr=False)
    """Bearer token of the REST channel, from ``OPASTIN_REST_TOKEN`` only; None disables the channel."""
    settings_file: Path | None = None
    """The file that was read, if any."""

    @property
    def database_url_masked(self) -> str:
        """The database URL with any password replaced by ``***``, safe for logs and messages."""
        return mask_url(self.database_url)


def mask_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def load_settings(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``), the settings file and defaults.

    Args:
        path: The settings file. Default: ``settings.yml`` in the content folder, which is
            ``OPASTIN_CONTENT_DIR`` or ``content/`` of the checkout. A missing default file is
            fine; a missing file named here is an error.
        environ: The environment to read ``OPASTIN_*`` and ``TELEGRAM_BOT_TOKEN`` from.

    Raises:
        SettingsError: the file is unreadable or a value cannot be cast; the message names the key,
            where the value came from and the value.
    """
    env = os.environ if environ is None else environ
    content_env = env.get(ENV_PREFIX + "CONTENT_DIR")
    content_dir = _path(content_env) if content_env else None
    settings_file: Path | None
    if path is not None:
        settings_file = Path(path)
        if not settings_file.is_file():
            raise SettingsError(f"settings file {settings_file} does not exist")
        content_dir = content_dir or settings_file.resolve().parent
    else:
        content_dir = content_dir or ROOT / "content"
        settings_file = content_dir / SETTINGS_FILE
        if not settings_file.is_file():
            settings_file = None
    source = _Source(env, _read_file(settings_file) if settings_file else {}, settings_file)

    data_dir = source.get("data_dir", _path, ROOT / "var", file_key=None)
    database_url = source.get("database.url", _database_url, f"sqlite:///{data_dir / DATABASE_FILE}")
    if source.from_file("database.url") and make_url(database_url).password:
        raise SettingsError(
            f"{settings_file}: database.url contains a password; put the whole URL in the "
            "environment variable OPASTIN_DATABASE_URL instead"
        )
    return Settings(
        content_dir=content_dir,
        data_dir=data_dir,
        database_url=database_url,
        nlu_backend=source.get("nlu.backend", _choice("builtin", "rasa"), "builtin"),
        rasa_url=source.get("nlu.rasa_url", _url, "http://127.0.0.1:5005"),
        nlu_model_path=source.get("nlu.model_path", _path, data_dir / NLU_MODEL_FILE),
        web_host=source.get("web.host", str, "127.0.0.1"),
        web_port=source.get("web.port", _port, 8000),
        timezone=source.get("timezone", _zone, ZoneInfo("Europe/Helsinki")),
        max_message_chars=source.get("max_message_chars", _positive_int, 4000),
        telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
        telegram_mode=source.get("telegram.mode", _choice("polling", "webhook"), "polling"),
        telegram_webhook_url=source.get("telegram.webhook_url", _url, None),
        telegram_webhook_secret=source.get("telegram.webhook_secret", str, None, file_key=None),
        telegram_base_url=source.get("telegram.base_url", _url, None),
        rest_token=source.get("rest.token", str, None, file_key=None, env_key="REST_TOKEN"),
        settings_file=settings_file,
    )


class _Source:
    """Looks a key up in the environment, then the file, and casts it with a helpful error."""

    def __init__(self, environ: Mapping[str, str], data: Mapping[str, Any], file: Path | None) -> None:
        self._environ = environ
        self._data = data
        self._file = file

    def from_file(self, key: str) -> bool:
        return _dig(self._data, key) is not None and _env_name(key) not in self._environ

    def get(
        self,
        key: str,
        cast_to: Callable[[Any], _T],
        default: _T,
        *,
        file_key: str | None = "",
        env_key: str | None = None,
    ) -> _T:
        """The value of ``key`` (dotted, as in the file).

        ``file_key=None`` marks an environment-only setting (a secret); ``env_key`` overrides the
        variable name derived from ``key`` (``web.port`` → ``OPASTIN_WEB_PORT``).
        """
        env_name = ENV_PREFIX + env_key if env_key else _env_name(key)
        if env_name in self._environ and self._environ[env_name] != "":
            return _cast(key, f"environment variable {env_name}", self._environ[env_name], cast_to)
        if file_key is not None:
            value = _dig(self._data, file_key or key)
            if value is not None:
                return _cast(key, f"{self._file}: {file_key or key}", value, cast_to)
        return default


def _env_name(key: str) -> str:
    return ENV_PREFIX + key.replace(".", "_").upper()


def _dig(data: Mapping[str, Any], key: str) -> Any:
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _cast(key: str, origin: str, value: Any, cast_to: Callable[[Any], _T]) -> _T:
    try:
        return cast_to(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {key} ({origin}) = {value!r}: {exc}") from None


def _read_file(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise SettingsError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise SettingsError(f"{path}: expected a mapping of sections (office:, database:, ...)")
    return cast(Mapping[str, Any], data)


# Casts: each raises ValueError with a message that says what was expected.


def _path(value: Any) -> Path:
    if not isinstance(value, str | Path) or not str(value):
        raise ValueError("expected a path")
    path = Path(value).expanduser()
    return path if path.is_absolute() else (ROOT / path)


def _database_url(value: Any) -> str:
    """A SQLAlchemy URL; a relative SQLite path is made relative to the project folder, as every
    other path here, instead of to wherever the command happens to run."""
    if not isinstance(value, str):
        raise ValueError("expected a SQLAlchemy URL such as sqlite:///var/opastin.sqlite3")
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("expected a SQLAlchemy URL such as postgresql+psycopg://user@host/db") from None
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:" and not Path(database).is_absolute():
        return url.set(database=str(ROOT / database)).render_as_string(hide_password=False)
    return value


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


def _port(value: Any) -> int:
    port = _int(value)
    if not 0 < port < 65536:
        raise ValueError("expected a port number between 1 and 65535")
    return port


def _positive_int(value: Any) -> int:
    number = _int(value)
    if number <= 0:
        raise ValueError("expected a positive whole number")
    return number


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError("expected a whole number")


def _zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as Europe/Helsinki") from None


def _choice(*allowed: str) -> Callable[[Any], Any]:
    def cast_choice(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return str(value)

    return cast_choice
