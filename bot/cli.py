"""The ``opastin`` command: ``main(argv) -> exit status``, argparse sub-commands.

Each sub-command is a function ``(args, settings) -> int``. Settings are read once here and passed
down. Expected failures (bad content, bad settings, an unreachable database, bad NLU data) print
one message without a traceback and exit 1, as Rasa's ``__main__`` does; anything else is a bug and
keeps its traceback.

    opastin chat [--lang fi|sv|en] [--user NAME]
    opastin content check
    opastin db upgrade
    opastin handoffs [--all] [--close ID]
    opastin nlu train|parse|test ...     (from nlu.cli)
    opastin serve [--host H] [--port P]  (from bot.app, once it exists)
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from bot.errors import BotError
from bot.settings import Settings, load_settings
from flows.errors import FlowsError
from flows.model import LANGUAGES

log = logging.getLogger(__name__)

Command = Callable[[argparse.Namespace, "Settings"], int]
PROG: Final = "opastin"


def _expected_errors() -> tuple[type[Exception], ...]:
    """Our own base errors: printed as a message, exit 1."""
    errors: list[type[Exception]] = [BotError, FlowsError]
    try:
        from nlu.errors import NLUError
    except ImportError:  # pragma: no cover - the NLU package is always there in a full checkout
        pass
    else:
        errors.append(NLUError)
    return tuple(errors)


def create_argument_parser() -> argparse.ArgumentParser:
    # SUPPRESS: a sub-parser's defaults would otherwise overwrite what was given before the command.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--settings", metavar="FILE", help="settings file (default: content/settings.yml)")
    common.add_argument("-v", "--verbose", action="count", help="more log output (-vv: debug)")
    common.add_argument("-q", "--quiet", action="store_true", help="errors only")

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Opastin: a chat assistant for the customers of Finnish employment services.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    chat = commands.add_parser("chat", parents=[common], help="talk to the assistant in this terminal")
    chat.add_argument("--lang", choices=LANGUAGES, help="language to start in (default: ask)")
    chat.add_argument(
        "--user", default=None, help="who you are; the conversation is kept per user (default: your login name)"
    )
    chat.set_defaults(func=cmd_chat)

    content = commands.add_parser("content", parents=[common], help="work with content/")
    content_commands = content.add_subparsers(dest="content_command", metavar="ACTION", required=True)
    check = content_commands.add_parser(
        "check", parents=[common], help="load and validate all content; list every problem as file:line"
    )
    check.set_defaults(func=cmd_content_check)

    db = commands.add_parser("db", parents=[common], help="the database")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_commands.add_parser("upgrade", parents=[common], help="create or upgrade the schema")
    upgrade.set_defaults(func=cmd_db_upgrade)

    handoffs = commands.add_parser(
        "handoffs", parents=[common], help="list customers' requests for a person (open ones by default)"
    )
    handoffs.add_argument("--all", action="store_true", help="closed requests too")
    handoffs.add_argument("--close", type=int, metavar="ID", help="mark request ID as dealt with")
    handoffs.set_defaults(func=cmd_handoffs)

    serve = commands.add_parser("serve", parents=[common], help="run the Telegram, web and REST channels")
    serve.add_argument("--host", help="listen address (default: settings web.host)")
    serve.add_argument("--port", type=int, help="listen port (default: settings web.port)")
    serve.set_defaults(func=cmd_serve)

    try:
        from nlu.cli import add_commands
    except ImportError:
        log.debug("nlu.cli not available; no nlu sub-commands")
    else:
        add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = create_argument_parser()
    args = parser.parse_args(argv)
    _configure_logging(args)
    try:
        settings = load_settings(getattr(args, "settings", None))
        func: Command = args.func
        return func(args, settings)
    except _expected_errors() as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


def _configure_logging(args: argparse.Namespace) -> None:
    chat = getattr(args, "command", None) == "chat"
    verbose = getattr(args, "verbose", 0)
    default = logging.WARNING if chat else logging.INFO
    level = (
        logging.ERROR if getattr(args, "quiet", False) else {0: default, 1: logging.INFO}.get(verbose, logging.DEBUG)
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    if level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(max(level, logging.WARNING))


# --------------------------------------------------------------------------------------------------
# Sub-commands
# --------------------------------------------------------------------------------------------------


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Talk to the assistant in this terminal (or through a pipe)."""
    from bot.terminal import run_chat
    from bot.turns import TurnProcessor

    processor = TurnProcessor.from_settings(settings)
    try:
        return run_chat(processor, user=args.user or _login_name(), language=args.lang)
    finally:
        processor.close()


def cmd_content_check(args: argparse.Namespace, settings: Settings) -> int:
    """Load the flows, templates and NLU data and report every problem (exit 1 if any)."""
    from flows.loader import load_content
    from nlu.data import read_path

    data = read_path(settings.content_dir / "nlu")
    content = load_content(settings.content_dir, known_intents=data.intents)
    languages = ", ".join(sorted(content.templates))
    print(
        f"{settings.content_dir}: OK — {len(content.flows)} flows, {len(data.intents)} intents, "
        f"{len(data.examples)} NLU examples, templates in {languages}"
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Create the database schema or bring it to the newest migration."""
    from bot.store import Store

    store = Store(settings.database_url)
    try:
        store.upgrade()
        print(f"database {settings.database_url_masked} is at revision {store.current_revision()}")
    finally:
        store.close()
    return 0


def cmd_handoffs(args: argparse.Namespace, settings: Settings) -> int:
    """List requests for a person, oldest first, each with its redacted transcript summary."""
    from bot.store import Store

    store = Store.open(settings.database_url)
    try:
        if args.close is not None:
            now = datetime.now(settings.timezone)
            if not store.close_handoff(args.close, now=now):
                print(f"{PROG}: no open request with id {args.close}", file=sys.stderr)
                return 1
            print(f"request {args.close} closed")
            return 0
        requests = store.handoffs(status=None if args.all else "open")
    finally:
        store.close()
    if not requests:
        print("no open requests" if not args.all else "no requests")
        return 0
    for request in requests:
        at = request.at.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M")
        print(
            f"#{request.id} {at} [{request.status}] {request.channel}:{request.external_id} "
            f"lang={request.language or '?'} topic={request.topic} reason={request.reason}"
        )
        for line in request.summary.splitlines():
            print(f"    {line}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the channels. ``bot.app`` (the channels' owner) provides ``serve(settings, host, port)``."""
    try:
        app = importlib.import_module("bot.app")
    except ModuleNotFoundError as exc:
        if exc.name != "bot.app":
            raise
        print(f"{PROG}: serve is not available yet (bot/app.py does not exist)", file=sys.stderr)
        return 1
    return int(app.serve(settings, host=args.host, port=args.port))


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "local"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
