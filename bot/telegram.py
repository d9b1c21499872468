"""The Telegram channel: a python-telegram-bot ``Application`` whose handlers call ``Turns``.

Shape of PTB's ``examples/conversationbot.py`` (one handler per kind of update) and
``examples/customwebhookbot/starlettebot.py`` (our Starlette app receives the webhook and puts the
``Update`` on the application's queue), with these invariants:

* One chat's updates are handled strictly in order, different chats concurrently:
  ``ChatOrderedUpdateProcessor`` serialises per chat around the *whole* handling, sending
  included, so a quick second message can never be answered before the first.
* Button payloads are the engine's own texts (``/c:1a2b3c:2``, ``/affirm``, ``/lang sv``), all
  under Telegram's 64-byte ``callback_data`` limit; a pressed button is forwarded as text, the
  query answered and the keyboard of the pressed message removed. Stale or forged data is the
  engine's business (it says the button has expired and asks the current question again).
* Replies go out as plain text, without ``parse_mode``, so nothing a customer wrote can become
  formatting or a link; texts over 4096 UTF-16 units are split at paragraph, line or word ends.
* ``AIORateLimiter(max_retries=3)`` paces sends and honours 429 ``retry_after``; connection
  errors are retried here (never timeouts, which may have been delivered). ``Forbidden`` means the
  customer blocked the bot: logged, nothing else.
* Only private chats are served; stickers, photos, voice, documents and locations get a short
  helpful answer instead of going through the NLU.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.errors import SettingsError, StoreUnavailableError
from bot.httpjson import error_body, read_json_object
from flows.model import LANGUAGES

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.turns import TurnResult, Turns

logger = logging.getLogger(__name__)

CHANNEL: Final = "telegram"
DEFAULT_BASE_URL: Final = "https://api.telegram.org/bot"
WEBHOOK_PATH: Final = "/telegram/webhook"
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES: Final = ("message", "callback_query")
"""Everything else (edits, group membership, polls …) is not asked for at all."""
MAX_CONCURRENT_UPDATES: Final = 64
"""Updates in flight across all chats; more wait in PTB's queue."""
SEND_ATTEMPTS: Final = 3
REQUEST_POOL_SIZE: Final = 256
"""Connections for sending, as ``ApplicationBuilder`` sets by default."""
TOKEN_PATTERN: Final = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{30,64}")
"""What @BotFather issues: the bot's numeric id, a colon, 35 URL-safe characters."""
SECRET_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""What Telegram accepts as ``secret_token`` for ``setWebhook``."""
COMMAND_MENU_TIMEOUT: Final = 15.0
"""Seconds for registering the command menu in all languages; a 429's wait must not hold up start-up."""
ATTACHMENT_TEMPLATE: Final = "common.attachment_not_here"
UNSUPPORTED_TEMPLATE: Final = "common.unsupported_message"

_T = TypeVar("_T")
Mode = Literal["polling", "webhook"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramConfig:
    """The validated Telegram part of ``Settings``."""

    token: str = field(repr=False)
    mode: Mode = "polling"
    base_url: str = DEFAULT_BASE_URL
    """The Bot API up to and including ``/bot``, as PTB's ``ApplicationBuilder.base_url`` wants it."""
    webhook_url: str | None = None
    """The public https URL Telegram posts to, which a proxy forwards to ``/telegram/webhook``."""
    webhook_secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramConfig | None:
        """None when no token is set (the channel is off); otherwise checked, with fixes named.

        Raises:
            SettingsError: a malformed token, or webhook mode without URL or secret.
        """
        token = settings.telegram_token
        if not token:
            return None
        token = token.strip()
        if not TOKEN_PATTERN.fullmatch(token):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is malformed: expected the token from @BotFather, "
                "<digits>:<35 letters, digits, - or _> (the value is not shown)"
            )
        if settings.telegram_mode == "webhook":
            if not settings.telegram_webhook_url:
                raise SettingsError(
                    "OPASTIN_TELEGRAM_MODE=webhook needs OPASTIN_TELEGRAM_WEBHOOK_URL, the public https "
                    f"address of this server's {WEBHOOK_PATH}"
                )
            secret = settings.telegram_webhook_secret
            if not secret or not SECRET_PATTERN.fullmatch(secret):
                raise SettingsError(
                    "OPASTIN_TELEGRAM_MODE=webhook needs OPASTIN_TELEGRAM_WEBHOOK_SECRET: 1-256 letters, "
                    "digits, - or _ (Telegram sends it back in every request; others get 403)"
                )
        return cls(
            token=token,
            mode=settings.telegram_mode,
            base_url=_bot_base_url(settings.telegram_base_url),
            webhook_url=settings.telegram_webhook_url,
            webhook_secret=settings.telegram_webhook_secret,
        )


def _bot_base_url(url: str | None) -> str:
    """Accept ``http://host:8081`` as well as ``http://host:8081/bot`` for a self-hosted Bot API."""
    if not url:
        return DEFAULT_BASE_URL
    url = url.rstrip("/")
    return url if url.endswith("/bot") else f"{url}/bot"


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Processes updates concurrently, except that one chat's updates run one after another.

    ``asyncio.Lock`` wakes waiters first-come first-served, and PTB starts update tasks in the order
    the updates arrived, so each chat's updates finish in arrival order. Locks exist only while a
    chat has updates in flight.
    """

    __slots__ = ("_chats",)

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._chats: dict[int, _ChatLock] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        entry = self._chats.get(chat.id)
        if entry is None:
            entry = self._chats[chat.id] = _ChatLock()
        entry.users += 1
        try:
            async with entry.lock:
                await coroutine
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._chats[chat.id]

    async def initialize(self) -> None:
        """Nothing to set up: locks are made on demand."""

    async def shutdown(self) -> None:
        """Nothing to free: ``Application.stop`` has already waited for every update."""


@dataclass(slots=True)
class _ChatLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class TelegramChannel:
    """The PTB application, its handlers, the webhook endpoint and start/stop in PTB's order."""

    def __init__(
        self,
        config: TelegramConfig,
        turns: Turns,
        *,
        request: BaseRequest | None = None,
        get_updates_request: BaseRequest | None = None,
        rate_limiter: BaseRateLimiter[Any] | None = None,
    ) -> None:
        """Build the application.

        Args:
            config: What ``TelegramConfig.from_settings`` checked.
            turns: Where every message goes.
            request, get_updates_request: Replace PTB's default HTTPX requests.
            rate_limiter: Replaces ``AIORateLimiter(max_retries=3)``, which keeps to Telegram's
                30 messages a second; load tests against a fake Bot API lift that.
        """
        self.config = config
        self._turns = turns
        builder = (
            ApplicationBuilder()
            .token(config.token)
            .base_url(config.base_url)
            .rate_limiter(rate_limiter or AIORateLimiter(max_retries=3))
            .concurrent_updates(ChatOrderedUpdateProcessor())
            .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True)))
            # Our own AsyncIOScheduler runs the reminders; PTB's JobQueue would be a second one.
            .job_queue(None)
        )
        # Kept so that a failed ``connect`` can close them: PTB's shutdown skips an application
        # whose ``initialize`` failed, which would leave their connections open.
        self._requests = (
            request or HTTPXRequest(connection_pool_size=REQUEST_POOL_SIZE),
            get_updates_request or HTTPXRequest(),
        )
        builder = builder.request(self._requests[0]).get_updates_request(self._requests[1])
        if config.mode == "webhook":
            builder = builder.updater(None)
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self._connected = False
        self._add_handlers()

    # -- lifecycle ------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Ask Telegram who we are (``getMe``), in webhook mode register the webhook, and set the
        command menu (whose failure is only a warning).

        ``opastin serve`` calls this before it opens its port, so that a wrong token or an
        unreachable Bot API stops it with one clear line instead of a half-started server.
        Calling it again does nothing.

        Raises:
            SettingsError: Telegram rejected the token or the webhook, or cannot be reached.
        """
        if self._connected:
            return
        try:
            await self._connect()
        except (SettingsError, TelegramError):
            await self.application.shutdown()  # a no-op unless initialize() got through
            for request in self._requests:
                await request.shutdown()  # idempotent; closes what a failed initialize() opened
            raise
        self._connected = True

    async def _connect(self) -> None:
        try:
            await self.application.initialize()
            if self.config.mode == "webhook":
                await self.application.bot.set_webhook(
                    url=self.config.webhook_url or "",
                    secret_token=self.config.webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            await self._set_command_menu()
        except InvalidToken:
            raise SettingsError(
                "Telegram did not accept TELEGRAM_BOT_TOKEN (401 Unauthorized); copy it again from @BotFather"
            ) from None
        except BadRequest as exc:
            raise SettingsError(
                f"Telegram refused the webhook OPASTIN_TELEGRAM_WEBHOOK_URL={self.config.webhook_url}: {exc}"
            ) from None
        except (NetworkError, Forbidden) as exc:
            raise SettingsError(
                f"cannot reach the Telegram Bot API at {_origin(self.config.base_url)} ({exc}); "
                "check the network or OPASTIN_TELEGRAM_BASE_URL"
            ) from None

    async def _set_command_menu(self) -> None:
        """Register the command menu of ``telegram_menu:`` in ``commands.yml`` (``setMyCommands``).

        Once without ``language_code`` in the default language (for users of any other language)
        and once per language. The menu is a convenience: if Telegram refuses it or cannot be
        reached, one warning is logged and the bot starts without it (the commands still work).
        A rejected token is left to ``_connect`` to report, as for ``getMe``.
        """
        menu = self._turns.processor.content.telegram_menu
        if not menu:
            logger.info("telegram: no telegram_menu in commands.yml; the bot's command menu is left as it is")
            return
        bot = self.application.bot
        calls = [(None, LANGUAGES[0]), *((lang, lang) for lang in LANGUAGES)]
        try:
            async with asyncio.timeout(COMMAND_MENU_TIMEOUT):
                for language_code, lang in calls:
                    await bot.set_my_commands(list(menu[lang]), language_code=language_code)
        except InvalidToken:
            raise
        except (TelegramError, TimeoutError) as exc:
            reason = str(exc) or f"no answer in {COMMAND_MENU_TIMEOUT:g} s"
            logger.warning("telegram: could not register the command menu (%s); starting without it", reason)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Receive and handle updates inside the block; on exit, finish what was received.

        The order is the one ``Application.run_polling`` uses: initialize, start fetching,
        start processing, and the reverse on the way out. ``Application.stop`` waits for the
        updates already in flight, so a turn is never cut off halfway.
        """
        app = self.application
        await self.connect()
        async with app:
            if app.updater is not None:
                await app.updater.start_polling(allowed_updates=list(ALLOWED_UPDATES))
            await app.start()
            logger.info("telegram: @%s receiving updates by %s", app.bot.username, self.config.mode)
            try:
                yield
            finally:
                if app.updater is not None and app.updater.running:
                    await app.updater.stop()
                await app.stop()
                self._connected = False

    # -- webhook --------------------------------------------------------------------------------

    @property
    def routes(self) -> list[BaseRoute]:
        if self.config.mode != "webhook":
            return []
        return [Route(WEBHOOK_PATH, self.webhook, methods=["POST"])]

    async def webhook(self, request: Request) -> Response:
        """An ``Update`` from Telegram: checked, queued, acknowledged; handled by the application."""
        expected = (self.config.webhook_secret or "").encode()
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not expected or not hmac.compare_digest(given, expected):
            logger.warning("telegram webhook: request without the right secret token refused")
            return JSONResponse(error_body(403, f"missing or wrong {SECRET_HEADER}"), 403)
        if not self.application.running:
            return JSONResponse(error_body(503, "not running yet; Telegram will retry"), 503)
        body = await read_json_object(request)
        problem = update_shape_problem(body)
        update = None
        if problem is None:
            try:
                update = Update.de_json(body, self.application.bot)
            except Exception as exc:  # PTB's parsers raise whatever a malformed field provokes
                problem = f"not parseable ({type(exc).__name__})"
        if update is None:
            logger.warning("telegram webhook: body refused: %s", problem)
            return JSONResponse(error_body(400, f"the body is not a Telegram Update: {problem}"), 400)
        await self.application.update_queue.put(update)
        return Response(status_code=200)

    # -- handlers -------------------------------------------------------------------------------

    def _add_handlers(self) -> None:
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        app = self.application
        app.add_handler(CommandHandler("start", self._on_start, filters=private))
        # The engine knows /help, /menu, /lang [xx] and /stop (and answers unknown commands);
        # they are listed here so that the bot's commands are visible in one place.
        app.add_handler(CommandHandler(["help", "menu", "lang", "stop"], self._on_text, filters=private))
        app.add_handler(CallbackQueryHandler(self._on_button))
        app.add_handler(MessageHandler(private & filters.TEXT, self._on_text))
        app.add_handler(MessageHandler(private & filters.ATTACHMENT, self._on_other))
        app.add_error_handler(self._on_error)

    async def _on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: privacy notice and language choice, in the user's Telegram language if we speak it."""
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None
        code = (user.language_code or "")[:2] if user else ""
        result = await self._turns.start(CHANNEL, str(chat.id), language=code if code in LANGUAGES else None)
        await self.send(chat.id, result)

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Text and commands: one turn."""
        chat, message = update.effective_chat, update.effective_message
        assert chat is not None and message is not None and message.text is not None
        result = await self._turns.handle(CHANNEL, str(chat.id), message.text)
        await self.send(chat.id, result)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An inline button: acknowledge it, retire its keyboard, take its payload as the message."""
        query, chat = update.callback_query, update.effective_chat
        assert query is not None
        await self._quietly(query.answer())
        if chat is None or chat.type != chat.PRIVATE or not query.data:
            return
        if query.message is not None:
            await self._quietly(query.edit_message_reply_markup(reply_markup=None))
        result = await self._turns.handle(CHANNEL, str(chat.id), query.data)
        await self.send(chat.id, result)

    async def _on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice, documents, locations …: say what works instead."""
        chat, message = update.effective_chat, update.effective_message
        assert chat is not None and message is not None
        template = ATTACHMENT_TEMPLATE if (message.document or message.photo) else UNSUPPORTED_TEMPLATE
        language = await self._language(chat.id, update)
        text = self._turns.processor.renderer.text(template, language, {})
        await self.send_text(chat.id, text)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log with the traceback; ids only, since an update holds what the customer wrote."""
        update_id = update.update_id if isinstance(update, Update) else None
        logger.error("telegram: update %s failed", update_id, exc_info=context.error)

    async def _language(self, chat_id: int, update: Update) -> str:
        """The conversation's language, or the user's Telegram language for a new or unreadable one."""
        processor = self._turns.processor
        try:
            conversation = await asyncio.to_thread(processor.conversation, CHANNEL, str(chat_id))
        except StoreUnavailableError:
            conversation = None
        if conversation is not None and conversation.user is not None:
            return conversation.state.language
        code = (update.effective_user.language_code or "")[:2] if update.effective_user else ""
        return code if code in LANGUAGES else LANGUAGES[0]

    # -- sending --------------------------------------------------------------------------------

    async def send(self, chat_id: int, result: TurnResult) -> None:
        """Send a turn's messages in order; a long one in parts, its buttons under the last part."""
        for message in result.messages:
            if not await self.send_text(chat_id, message.text, message.buttons):
                return

    async def send_text(self, chat_id: int, text: str, buttons: Sequence[tuple[str, str]] = ()) -> bool:
        """Send one message; False when the customer has blocked the bot (nothing more to send)."""
        parts = split_text(text)
        markup = keyboard(buttons)
        bot = self.application.bot
        for number, part in enumerate(parts, start=1):
            reply_markup = markup if number == len(parts) else None
            try:
                await _with_retries(partial(bot.send_message, chat_id, part, reply_markup=reply_markup))
            except Forbidden:
                logger.info("telegram: chat %s has blocked the bot; reply dropped", chat_id)
                return False
        return True

    @staticmethod
    async def _quietly(call: Awaitable[Any]) -> None:
        """Answering a callback query or removing a keyboard is cosmetic: an old query or an
        already edited message (``BadRequest``) must not stop the turn itself."""
        try:
            await call
        except BadRequest as exc:
            logger.debug("telegram: cosmetic call refused: %s", exc)


def update_shape_problem(body: Mapping[str, Any]) -> str | None:
    """What is wrong with the fields our handlers read, or None.

    PTB's ``de_json`` trusts Telegram and does not check types, so ``"text": []`` would reach a
    handler as a list. Only Telegram knows the webhook secret, but a body is checked anyway.
    """
    if not _is_int(body.get("update_id")):
        return "update_id must be an integer"
    message = body.get("message")
    if message is not None and (problem := _message_problem(message)):
        return f"message: {problem}"
    query = body.get("callback_query")
    if query is not None:
        if not isinstance(query, Mapping) or not isinstance(query.get("id"), str):
            return "callback_query must be an object with a string id"
        if not _is_user(query.get("from")):
            return "callback_query.from must be a user"
        if not isinstance(query.get("data", ""), str):
            return "callback_query.data must be a string"
        if query.get("message") is not None and (problem := _message_problem(query["message"])):
            return f"callback_query.message: {problem}"
    return None


def _message_problem(message: Any) -> str | None:
    if not isinstance(message, Mapping):
        return "must be an object"
    chat = message.get("chat")
    if not isinstance(chat, Mapping) or not _is_int(chat.get("id")) or not isinstance(chat.get("type"), str):
        return "chat must have an integer id and a type"
    if not _is_int(message.get("message_id")) or not _is_int(message.get("date")):
        return "message_id and date must be integers"
    if message.get("from") is not None and not _is_user(message["from"]):
        return "from must be a user"
    for field_name in ("text", "caption"):
        if not isinstance(message.get(field_name, ""), str):
            return f"{field_name} must be a string"
    return None


def _is_user(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and _is_int(value.get("id"))
        and isinstance(value.get("language_code", ""), str)
        and isinstance(value.get("first_name", ""), str)
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def keyboard(buttons: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """One button per row (titles can be long); payloads become ``callback_data`` unchanged."""
    rows = []
    for title, payload in buttons:
        if len(payload.encode("utf-8")) > InlineKeyboardButtonLimit.MAX_CALLBACK_DATA:
            # The engine keeps payloads short; a longer one would make Telegram refuse the message.
            logger.error("telegram: button payload of %d bytes dropped", len(payload.encode("utf-8")))
            continue
        rows.append([InlineKeyboardButton(title, callback_data=payload)])
    return InlineKeyboardMarkup(rows) if rows else None


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-16 code units (Telegram's measure).

    Cuts at the last paragraph break, else line break, else space in the second half of the
    window, and only mid-word when there is none. Empty parts are dropped.
    """
    parts: list[str] = []
    rest = text.strip()
    while _utf16_units(rest) > limit:
        window = _fitting_prefix(rest, limit)
        cut = window
        for separator in ("\n\n", "\n", " "):
            at = rest.rfind(separator, 0, window)
            if at >= window // 2:
                cut = at
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [part for part in parts if part]


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """The number of characters of ``text`` that fit in ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


async def _with_retries(call: Callable[[], Awaitable[_T]]) -> _T:
    """Retry a Bot API call on connection errors, with 0.5 s, 1 s back-off.

    Not on ``TimedOut`` (the message may have arrived; a retry could send it twice) nor on
    ``BadRequest`` (a subclass of ``NetworkError`` that no retry will fix). 429s are the rate
    limiter's job.
    """
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await call()
        except (TimedOut, BadRequest):
            raise
        except NetworkError as exc:
            if attempt == SEND_ATTEMPTS:
                raise
            logger.warning("telegram: network error (%s); retry %d of %d", exc, attempt, SEND_ATTEMPTS - 1)
            await asyncio.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def _origin(url: str) -> str:
    """The URL without its path: the Bot API base URL holds the token after ``/bot`` in requests."""
    match = re.match(r"[a-z]+://[^/]+", url)
    return match.group(0) if match else url
