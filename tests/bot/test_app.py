"""bot/app.py: health checks, the scheduler in the lifespan, and ``opastin serve`` as a real process.

The process tests run ``python -m bot.cli serve`` with its own environment (a SQLite file, the
session's trained NLU model, optionally a Telegram token and the fake Bot API's URL) and talk to it
only over loopback HTTP and signals, as an operator's supervisor would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import TURN_THREADS_ENV, create_app, turn_threads_for
from bot.errors import SettingsError
from bot.settings import Settings, load_settings
from bot.store import Store
from bot.turns import TurnProcessor, Turns
from flows.content import Content
from flows.render import Renderer
from tests.bot.channels import in_process
from tests.fakes.server import free_port, running
from tests.fakes.telegram_api import TOKEN, FakeBotAPI, message_update

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.anyio


# --------------------------------------------------------------------------------------------------
# /healthz, /readyz, the scheduler
# --------------------------------------------------------------------------------------------------


async def test_healthz_and_readyz_when_all_is_well(settings: Settings, processor: TurnProcessor) -> None:
    app = create_app(settings, Turns(processor))
    async with in_process(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")

    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["content"].startswith("ok (")
    assert body["checks"]["scheduler"] == "ok"
    assert body["checks"]["telegram"] == "off"


async def test_the_scheduler_runs_jobs_from_start_and_stops_with_the_app(
    settings: Settings, processor: TurnProcessor
) -> None:
    app = create_app(settings, Turns(processor))
    runtime = app.state.runtime
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    async with in_process(app):
        assert runtime.scheduler.running
        runtime.scheduler.add_job(job)  # due now, on the app's own loop
        await asyncio.wait_for(ran.wait(), 5)
    assert not runtime.scheduler.running


async def test_not_ready_before_start(settings: Settings, processor: TurnProcessor) -> None:
    app = create_app(settings, Turns(processor))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["scheduler"] == "stopped"


async def test_not_ready_when_the_database_is_unreachable(
    settings: Settings, content: Content, renderer: Renderer, nlu_model: Any
) -> None:
    nowhere = Store(f"postgresql+psycopg://opastin@127.0.0.1:{free_port()}/opastin?connect_timeout=2")
    processor = TurnProcessor(content=content, store=nowhere, interpreter=nlu_model, renderer=renderer)
    async with in_process(create_app(settings, Turns(processor))) as client:
        response = await client.get("/readyz")
        turn = await client.post("/webhooks/rest/webhook", json={"sender": "x", "message": "/menu"})
    nowhere.close()

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unreachable"
    assert turn.status_code == 200, "a turn still answers: it says to try again"
    assert turn.json()[0]["text"] == renderer.text("common.error_try_again", "fi", {})


# --------------------------------------------------------------------------------------------------
# opastin serve, as a process
# --------------------------------------------------------------------------------------------------


class Serve:
    """A running ``opastin serve`` and what it printed."""

    def __init__(self, environ: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"opastin serve exited: {self.process.stderr.read() if self.process.stderr else ''}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("opastin serve did not become ready")

    def stop(self, timeout: float = 60.0) -> tuple[int, str, str]:
        """SIGTERM, as a supervisor stops it; the exit status and everything it wrote."""
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err


@pytest.fixture
def serve_environ(tmp_path: Path, nlu_model: Any, nlu_model_path: Path) -> dict[str, str]:
    """The environment of an operator's ``opastin serve``, with every file in ``tmp_path``."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("OPASTIN_", "TELEGRAM_"))}
    return {
        **keep,
        "OPASTIN_DATA_DIR": str(tmp_path / "data"),
        "OPASTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "OPASTIN_NLU_MODEL_PATH": str(nlu_model_path),  # trained once by the nlu_model fixture
        "PYTHONUNBUFFERED": "1",
    }


@pytest.mark.slow
def test_serve_without_telegram_serves_web_and_rest_and_stops_cleanly(
    serve_environ: dict[str, str], tmp_path: Path
) -> None:
    server = Serve(serve_environ, free_port())
    try:
        server.wait_ready()
        page = httpx.get(f"{server.url}/")
        turn = httpx.post(f"{server.url}/webhooks/rest/webhook", json={"sender": "ops", "message": "/menu"})
    finally:
        status, out, err = server.stop()

    assert page.status_code == 200 and "<html" in page.text
    assert turn.status_code == 200 and turn.json()
    assert status == 0, err
    assert f"Opastin web chat: http://127.0.0.1:{server.port}/" in out
    assert "Telegram: off (TELEGRAM_BOT_TOKEN is not set); serving the web chat and REST only" in out
    store = Store(serve_environ["OPASTIN_DATABASE_URL"])
    assert store.load("rest", "ops").state.version == 1, "the turn was committed"
    store.close()


@pytest.mark.slow
def test_serve_with_telegram_polling_finishes_received_updates_on_sigterm(serve_environ: dict[str, str]) -> None:
    api = FakeBotAPI()
    with running(api.app) as api_url:
        environ = {**serve_environ, "TELEGRAM_BOT_TOKEN": TOKEN, "OPASTIN_TELEGRAM_BASE_URL": f"{api_url}/bot"}
        server = Serve(environ, free_port())
        try:
            server.wait_ready()
            for number in range(1, 31):
                api.push_update(message_update(77, "/menu" if number % 2 else "/lang sv", message_id=number))
            deadline = time.monotonic() + 30
            while not api.sent_texts(77) and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            status, out, err = server.stop()

    assert status == 0, err
    assert "Telegram: @opastin_test_bot by polling" in out
    store = Store(serve_environ["OPASTIN_DATABASE_URL"])
    turns = store.load("telegram", "77").state.version
    store.close()
    assert turns == 30, "every update received before SIGTERM was handled and committed"
    assert len(api.sent_texts(77)) >= 30, "and answered"


def test_serve_refuses_a_malformed_token_before_doing_anything(serve_environ: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env={**serve_environ, "TELEGRAM_BOT_TOKEN": "12345"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "TELEGRAM_BOT_TOKEN is malformed" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_serve_reports_a_token_telegram_rejects(serve_environ: dict[str, str]) -> None:
    api = FakeBotAPI()
    with running(api.app) as api_url:
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(free_port())],
            cwd=ROOT,
            env={
                **serve_environ,
                "TELEGRAM_BOT_TOKEN": "987654321:AAHwrongWRONGwrongWRONGwrongWRONG123",
                "OPASTIN_TELEGRAM_BASE_URL": f"{api_url}/bot",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert result.returncode == 1
    assert "Telegram did not accept TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_serve_reports_a_port_in_use(serve_environ: dict[str, str]) -> None:
    with running(create_app_stub()) as busy:
        port = int(busy.rsplit(":", 1)[1])
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=serve_environ,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def create_app_stub() -> Any:
    """Something that holds a port."""
    from starlette.applications import Starlette

    return Starlette()


async def test_turn_threads_one_on_sqlite_more_on_a_server_database(environ: dict[str, str]) -> None:
    sqlite = load_settings(environ=environ)
    postgres = load_settings(environ={**environ, "OPASTIN_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1/db"})
    assert turn_threads_for(sqlite, {}) == 1
    assert turn_threads_for(postgres, {}) == 4
    assert turn_threads_for(sqlite, {TURN_THREADS_ENV: "3"}) == 3
    with pytest.raises(SettingsError, match=TURN_THREADS_ENV):
        turn_threads_for(sqlite, {TURN_THREADS_ENV: "many"})
