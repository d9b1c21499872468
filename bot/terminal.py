"""The terminal channel: ``opastin chat``, a conversation in a terminal or through a pipe.

Buttons are shown as numbered choices; typing the number (or the button's text) presses it, anything
else is sent as a message. With a terminal, a prompt and colours (rich); with piped stdin, neither,
one line in per message and each answer flushed at once, so that scripts and tests can drive it.
Ctrl-C and end of input leave cleanly (exit status 0); a turn interrupted by Ctrl-C is rolled back.

A conversation that was stored earlier goes on where it stopped: a pending question is asked again
(``/repeat``) so its buttons are on screen.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Final, TextIO

from rich.console import Console
from rich.text import Text

from bot.turns import OutgoingMessage, TurnProcessor, TurnResult
from flows.model import LANGUAGES, Reply

log = logging.getLogger(__name__)

CHANNEL: Final = "terminal"
QUIT_WORDS: Final = frozenset({"/quit", "/exit"})


class TerminalChat:
    """One customer's conversation on stdin/stdout."""

    def __init__(
        self,
        processor: TurnProcessor,
        *,
        user: str,
        language: str | None = None,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        interactive: bool | None = None,
    ) -> None:
        self._processor = processor
        self._user = user
        self._language = language if language in LANGUAGES else None
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        if interactive is None:
            interactive = self._stdin.isatty() and self._stdout.isatty()
        self._interactive = interactive
        self._console = Console(
            file=self._stdout,
            force_terminal=interactive,
            no_color=not interactive,
            highlight=False,
            soft_wrap=not interactive,
        )
        self._buttons: tuple[tuple[str, str], ...] = ()

    def run(self) -> int:
        """Converse until end of input, ``/quit`` or Ctrl-C; the exit status is 0."""
        # A shell without job control starts background children with SIGINT ignored, and Python
        # then never raises KeyboardInterrupt; the chat promises that Ctrl-C leaves, so ask for it.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            if self._interactive:
                self._console.print(
                    Text(f"Opastin — user {self._user!r}. Leave with Ctrl-D, Ctrl-C or /quit.", style="dim")
                )
            self._show(self._opening())
            while True:
                line = self._read()
                if line is None or line.strip() in QUIT_WORDS:
                    break
                self._show(self._send(line))
        except KeyboardInterrupt:
            pass
        if self._interactive:
            self._console.print()
        return 0

    def _opening(self) -> TurnResult:
        conversation = self._processor.conversation(CHANNEL, self._user)
        state = conversation.state
        if conversation.user is None or state.version == 0:
            return self._processor.start_conversation(CHANNEL, self._user, language=self._language)
        if self._language is not None and self._language != state.language:
            return self._processor.process(CHANNEL, self._user, f"/lang {self._language}")
        if state.frame is not None and state.frame.waiting:
            return self._processor.process(CHANNEL, self._user, "/repeat")
        return TurnResult(messages=(), language=state.language)

    def _send(self, line: str) -> TurnResult:
        try:
            return self._processor.process(CHANNEL, self._user, self._payload_for(line))
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a bug must not end the customer's session; its text is not logged
            log.error("turn failed with %s", type(exc).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
            language = self._processor.conversation(CHANNEL, self._user).state.language
            rendered = self._processor.renderer.render(Reply(template="common.error_try_again"), language)
            return TurnResult(messages=(OutgoingMessage(text=rendered.text),), language=language)

    def _payload_for(self, line: str) -> str:
        """A number or the exact text of a shown button presses it; anything else is a message."""
        typed = line.strip()
        if typed.isdigit() and 1 <= int(typed) <= len(self._buttons):
            return self._buttons[int(typed) - 1][1]
        for title, payload in self._buttons:
            if typed.casefold() == title.casefold():
                return payload
        return line

    def _read(self) -> str | None:
        if self._interactive:
            try:
                return self._console.input(Text("> ", style="bold green"))
            except EOFError:
                return None
        line = self._stdin.readline()
        return line.rstrip("\n") if line else None

    def _show(self, result: TurnResult) -> None:
        buttons: list[tuple[str, str]] = []
        for message in result.messages:
            self._print_message(message, first_number=len(buttons) + 1)
            buttons.extend(message.buttons)
        if result.messages:
            self._buttons = tuple(buttons)
        self._stdout.flush()

    def _print_message(self, message: OutgoingMessage, *, first_number: int) -> None:
        text = Text()
        text.append("Opastin: ", style="bold cyan")
        text.append(message.text)
        self._console.print(text)
        for number, (title, _payload) in enumerate(message.buttons, start=first_number):
            self._console.print(Text(f"  {number}) {title}", style="yellow"))


def run_chat(processor: TurnProcessor, *, user: str, language: str | None) -> int:
    """``opastin chat``: converse on this process's stdin and stdout."""
    if hasattr(sys.stdin, "reconfigure"):
        # Undecodable bytes from a pipe must not end the session; they become U+FFFD.
        sys.stdin.reconfigure(errors="replace")
    return TerminalChat(processor, user=user, language=language).run()
