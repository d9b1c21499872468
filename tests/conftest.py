"""Shared fixtures: settings from an environ dict, a store on a SQLite file, the real content and NLU,
a fixed clock, and a guard that fails any test reaching past the loopback interface.

``now`` is a Tuesday morning in Helsinki; tests pass it everywhere instead of reading the clock.
The store uses a *file* in ``tmp_path``: ``:memory:`` would give each thread its own database.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.settings import Settings, load_settings
from bot.store import Store
from flows.content import Content
from flows.render import Renderer

ROOT = Path(__file__).resolve().parents[1]
CONTENT_DIR = ROOT / "content"
HELSINKI = ZoneInfo("Europe/Helsinki")


# --------------------------------------------------------------------------------------------------
# No network beyond loopback (PTB tests/conftest.py: _disallow_requests_in_without_request_tests)
# --------------------------------------------------------------------------------------------------


def _loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return True  # AF_UNIX paths (bytes) and the like never leave the machine
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return not host.startswith(("http", "www")) and "." not in host and ":" not in host


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection or name lookup that is not loopback fails the test at once."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def refuse(address: Any) -> None:
        raise RuntimeError(f"test tried to reach the network: {address!r} (only loopback is allowed)")

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            refuse(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            refuse(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback(host.decode() if isinstance(host, bytes) else host):
            refuse(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# --------------------------------------------------------------------------------------------------
# Clock, settings, store
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def now() -> datetime:
    """Tuesday 4 March 2025, 10.00 in Helsinki."""
    return datetime(2025, 3, 4, 10, 0, tzinfo=HELSINKI)


@pytest.fixture(scope="session")
def nlu_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained model file for the whole session (training is the slow part)."""
    return tmp_path_factory.mktemp("nlu") / "nlu-model.pkl"


@pytest.fixture
def environ(tmp_path: Path, nlu_model_path: Path) -> dict[str, str]:
    """An environment as a deployment would set it, pointing every file into ``tmp_path``."""
    return {
        "OPASTIN_DATA_DIR": str(tmp_path / "data"),
        "OPASTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'opastin.sqlite3'}",
        "OPASTIN_NLU_MODEL_PATH": str(nlu_model_path),
        "OPASTIN_CONTENT_DIR": str(CONTENT_DIR),
    }


@pytest.fixture
def settings(environ: dict[str, str]) -> Settings:
    return load_settings(environ=environ)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    yield store
    store.close()


# --------------------------------------------------------------------------------------------------
# The real content and NLU, loaded once
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def known_intents() -> tuple[str, ...]:
    from nlu.data import read_path

    return read_path(CONTENT_DIR / "nlu").intents


@pytest.fixture(scope="session")
def content(known_intents: tuple[str, ...]) -> Content:
    from flows.loader import load_content

    return load_content(CONTENT_DIR, known_intents=known_intents)


@pytest.fixture(scope="session")
def renderer(content: Content) -> Renderer:
    return Renderer(content)


@pytest.fixture(scope="session")
def nlu_model(nlu_model_path: Path) -> Any:
    """The real built-in NLU, trained once per session from ``content/nlu``."""
    from nlu.model import load_or_train

    return load_or_train(CONTENT_DIR / "nlu", nlu_model_path)
