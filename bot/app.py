"""``opastin serve``: every channel, the scheduler and the health checks in one process and one loop.

Collaborators are built from ``Settings`` here and nowhere else (as PTB's ``ApplicationBuilder``
is the one place an ``Application`` is put together):

    TurnProcessor.from_settings ─► Turns ─┬─► WebChat     GET /, POST /chat/start, /chat/turn
                                          ├─► RestChannel POST /webhooks/rest/webhook, /model/parse
                                          └─► TelegramChannel (polling, or POST /telegram/webhook)
    AsyncIOScheduler (no jobs yet: the reminder sweep plugs in here)
    GET /healthz (the process answers), GET /readyz (database, content, scheduler, Telegram)

Uvicorn owns the loop. The Starlette lifespan starts Telegram (``async with`` the PTB application,
polling, ``start()``) and then the scheduler, which needs the running loop, and stops them in
reverse (Starlette ``docs/lifespan.md``; PTB ``examples/customwebhookbot/starlettebot.py``).

Shutdown on SIGTERM or Ctrl-C is graceful: uvicorn stops accepting connections and waits for the
requests in flight, then the lifespan lets PTB finish the updates it has received. Every turn
commits in one transaction, so nothing is half-written either way.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Final

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.errors import BotError, SettingsError, StoreUnavailableError
from bot.httpjson import json_error, json_server_error
from bot.rest import RestChannel
from bot.settings import Settings
from bot.telegram import TelegramChannel, TelegramConfig
from bot.turns import TurnProcessor, Turns
from bot.web import WebChat

logger = logging.getLogger(__name__)

TURN_THREADS_ENV: Final = "OPASTIN_TURN_THREADS"
GRACEFUL_SHUTDOWN_SECONDS: Final = 30
"""How long uvicorn waits for requests in flight after SIGTERM before it closes them."""


@dataclass(slots=True)
class Runtime:
    """What the lifespan starts, for ``/readyz`` and for tests."""

    turns: Turns
    telegram: TelegramChannel | None
    scheduler: AsyncIOScheduler | None = None


def create_app(
    settings: Settings,
    turns: Turns,
    *,
    telegram: TelegramChannel | None = None,
    turn_threads: int | None = None,
) -> Starlette:
    """The ASGI app of ``opastin serve``; tests serve it with uvicorn or in process.

    Args:
        settings: The one ``Settings`` of the process.
        turns: Where every channel sends its messages.
        telegram: The Telegram channel, or None when no token is set.
        turn_threads: Threads that run turns (``asyncio.to_thread``); default
            ``turn_threads_for(settings)``.
    """
    runtime = Runtime(turns=turns, telegram=telegram)
    threads = turn_threads or turn_threads_for(settings)
    processor = turns.processor
    rest = RestChannel(
        turns,
        processor.interpreter,
        clock=lambda: datetime.now(settings.timezone),
        token=settings.rest_token,
        max_chars=processor.max_chars,
    )
    routes: list[BaseRoute] = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz, methods=["GET"]),
        *rest.routes,
        *(telegram.routes if telegram is not None else []),
        *WebChat(turns).routes,
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Turns run in the loop's default executor (Turns.handle uses asyncio.to_thread). Sized
        # here, where the loop is known; asyncio shuts it down when the loop closes.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="opastin-turn")
        )
        async with AsyncExitStack() as stack:
            if telegram is not None:
                await stack.enter_async_context(telegram.running())
            scheduler = AsyncIOScheduler(timezone=settings.timezone)
            scheduler.start()  # takes the running loop: only possible here, never at import
            runtime.scheduler = scheduler
            stack.push_async_callback(_stop_scheduler, scheduler)
            logger.info("serving: web chat, REST%s", ", Telegram" if telegram is not None else "")
            yield

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: json_error, Exception: json_server_error},
    )
    app.state.runtime = runtime
    return app


def turn_threads_for(settings: Settings, environ: Mapping[str, str] = os.environ) -> int:
    """How many turns run at once: ``OPASTIN_TURN_THREADS``, else 1 on SQLite and 4 otherwise.

    SQLite has one writer at a time, and a writer that finds the lock taken sleeps in SQLite's
    busy handler (1, 2, 5, 10 … ms) instead of being woken when the lock is free: with several
    turn threads that sleeping, not the work, is most of a turn's latency. One thread queues the
    turns in order instead; the GIL would not run them in parallel anyway. A server database
    (PostgreSQL) overlaps its network round trips, so there a few threads help.

    Read here rather than in ``Settings`` while that module's owner extends it.
    """
    value = environ.get(TURN_THREADS_ENV, "").strip()
    if value:
        if not value.isdigit() or not 1 <= int(value) <= 64:
            raise SettingsError(f"{TURN_THREADS_ENV}={value!r}: expected a whole number from 1 to 64")
        return int(value)
    return 1 if make_url(settings.database_url).get_backend_name() == "sqlite" else 4


async def _stop_scheduler(scheduler: AsyncIOScheduler) -> None:
    # AsyncIOScheduler.shutdown() only schedules the stop on the loop (call_soon_threadsafe);
    # yield once so that it has happened when the lifespan ends.
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)


async def _healthz(request: Request) -> JSONResponse:
    """Liveness: the process answers HTTP."""
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers, content is loaded, the scheduler and Telegram run."""
    runtime: Runtime = request.app.state.runtime
    processor = runtime.turns.processor
    checks: dict[str, str] = {}
    try:
        revision = await asyncio.to_thread(processor.store.current_revision)
        checks["database"] = "ok" if revision else "no schema (run: opastin db upgrade)"
    except StoreUnavailableError:
        checks["database"] = "unreachable"
    checks["content"] = f"ok ({len(processor.content.flows)} flows)" if processor.content.flows else "no flows"
    checks["scheduler"] = "ok" if runtime.scheduler is not None and runtime.scheduler.running else "stopped"
    if runtime.telegram is None:
        checks["telegram"] = "off"
    else:
        checks["telegram"] = "ok" if runtime.telegram.application.running else "stopped"
    ready = all(value.startswith("ok") or value == "off" for value in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503)


# --------------------------------------------------------------------------------------------------
# opastin serve
# --------------------------------------------------------------------------------------------------


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> int:
    """Run until SIGTERM or Ctrl-C; 0 after a graceful stop.

    Raises:
        BotError: bad settings (a malformed or rejected Telegram token, a port in use …), and the
            start-up errors of content, NLU and database, all printed by the CLI as one line.
    """
    host = host or settings.web_host
    port = port if port is not None else settings.web_port
    telegram_config = TelegramConfig.from_settings(settings)  # a malformed token fails before any work
    threads = turn_threads_for(settings)
    processor = TurnProcessor.from_settings(settings)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        asyncio.run(_serve(settings, processor, telegram_config, host, port, threads))
    except (_Terminated, KeyboardInterrupt):
        logger.info("stopped")
    except SystemExit as exc:  # uvicorn exits this way when the lifespan fails to start
        raise BotError("the server did not start; the log above says why") from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
        processor.close()
    return 0


async def _serve(
    settings: Settings,
    processor: TurnProcessor,
    telegram_config: TelegramConfig | None,
    host: str,
    port: int,
    threads: int,
) -> None:
    turns = Turns(processor)
    sock = _listen(host, port)
    try:
        telegram = TelegramChannel(telegram_config, turns) if telegram_config else None
        if telegram is not None:
            await telegram.connect()
        app = create_app(settings, turns, telegram=telegram, turn_threads=threads)
        config = uvicorn.Config(
            app,
            lifespan="on",
            log_config=None,  # keep the CLI's logging set-up
            server_header=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        server = uvicorn.Server(config)
        _freeze_startup_objects()
        _announce(settings, telegram, sock)
        await server.serve(sockets=[sock])
    finally:
        sock.close()


def _freeze_startup_objects() -> None:
    """Keep the garbage collector's full passes off the objects loaded at start-up.

    The NLU model, the content and the templates are ~100,000 long-lived objects that never become
    garbage; every full collection walked them all, a pause of ~20 ms (measured on this machine)
    inside whichever turn triggered it. Frozen, they are never scanned again.
    """
    gc.collect()
    gc.freeze()


def _listen(host: str, port: int) -> socket.socket:
    """Bind the port ourselves so that "address in use" is one clear error, not a uvicorn exit."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise BotError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _announce(settings: Settings, telegram: TelegramChannel | None, sock: socket.socket) -> None:
    """Tell the operator where things are (stdout: this is the command's output, not a log)."""
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    base = f"http://{shown}:{port}"
    print(f"Opastin web chat: {base}/", flush=True)
    auth = " (bearer token required)" if settings.rest_token else ""
    print(f"REST (Rasa-compatible): POST {base}/webhooks/rest/webhook{auth}", flush=True)
    if telegram is None:
        print("Telegram: off (TELEGRAM_BOT_TOKEN is not set); serving the web chat and REST only", flush=True)
    else:
        username = telegram.application.bot.username
        print(f"Telegram: @{username} by {telegram.config.mode}", flush=True)


class _Terminated(Exception):
    """SIGTERM arrived outside uvicorn's own handling (during start-up or just after the stop)."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated
