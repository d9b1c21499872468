"""One turn of a conversation: the only place that sequences I/O around the pure engine.

    clean the text → load the state → parse (NLU) → ``engine.step`` → in ONE transaction:
    claim the version, run shell actions, write state + redacted transcript + effects → render

Every channel (terminal, Telegram, web, REST) calls ``TurnProcessor.process`` (sync) or, from async
code, ``Turns.handle``, which lets one turn at a time run per conversation key (channel, external
id): two messages of one customer must not both be computed from the same state (the reason PTB's
``ConversationHandler`` keys its state per chat). Across processes the store's version check does
the same; a turn that loses the race is simply recomputed on the newer state.

Input hygiene happens before anything else: control characters are dropped (newlines kept), and an
empty or over-long message is answered without touching the NLU, the engine or the database. A
database that is down yields ``common.error_try_again`` and nothing half-written: the transaction
is rolled back, so the customer can send the same message again. User text is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from bot.actions import ACTIONS, ShellAction, ShellContext
from bot.errors import ConflictError, StoreUnavailableError
from bot.store import Conversation, Store, TranscriptEntry, TurnWriter
from flows import engine
from flows.content import Content
from flows.model import LANGUAGES, Outcome, Reply, RunAction, State
from flows.render import Renderer
from nlu.interpreter import Interpreter, RasaInterpreter

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS: Final = 4000
"""Longer messages are not read (Telegram's own limit is 4096)."""
CONFLICT_RETRIES: Final = 3
"""How often a turn is recomputed when another worker saved the conversation first."""
START_TEXT: Final = "/start"
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMessage:
    """One message for a channel to send."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()
    """``(title, payload)``; pressing a button sends ``payload`` back as the message text."""
    template: str = ""
    """The template key it was rendered from, for tests and logs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnResult:
    messages: tuple[OutgoingMessage, ...]
    language: str
    """The conversation's language after the turn, for the channel's own texts."""
    state: State | None = field(default=None, repr=False)
    """The state as stored after this turn; None when nothing was stored."""


def build_interpreter(settings: Settings) -> Interpreter:
    """The NLU the settings ask for: the built-in model (trained on first use, or when
    ``content/nlu`` changed), behind a Rasa server when ``nlu.backend`` is ``rasa``."""
    from nlu.model import load_or_train

    model = load_or_train(settings.content_dir / "nlu", settings.nlu_model_path)
    if settings.nlu_backend == "builtin":
        return model
    return RasaInterpreter(settings.rasa_url, fallback=model)


def clean_text(text: str) -> str:
    """The text with control characters dropped: newlines kept, CR LF and tabs normalised.

    Lone surrogates (undecodable bytes a channel let through) and bidirectional overrides, which
    can make a staff member read a transcript line backwards, go too.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "".join(
        ch for ch in text if ch == "\n" or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _BIDI_CONTROLS)
    )


class TurnProcessor:
    """Runs turns synchronously; thread-safe, so async channels call it via ``asyncio.to_thread``."""

    def __init__(
        self,
        *,
        content: Content,
        store: Store,
        interpreter: Interpreter,
        timezone: ZoneInfo | None = None,
        clock: Callable[[], datetime] | None = None,
        max_chars: int = MAX_MESSAGE_CHARS,
        actions: Mapping[str, ShellAction] = ACTIONS,
        renderer: Renderer | None = None,
    ) -> None:
        self.content = content
        self.store = store
        self.interpreter = interpreter
        self.renderer = renderer or Renderer(content)  # compiling every template takes a while: share one
        self.timezone = timezone or ZoneInfo("Europe/Helsinki")
        self._clock = clock or (lambda: datetime.now(self.timezone))
        self.max_chars = max_chars
        self._actions = actions

    @classmethod
    def from_settings(cls, settings: Settings) -> TurnProcessor:
        """Load the content and the NLU model and open (and upgrade) the database.

        Raises:
            ContentError, NLUError, StoreUnavailableError: the expected start-up failures.
        """
        from flows.loader import load_content
        from nlu.data import read_path

        known_intents = read_path(settings.content_dir / "nlu").intents
        content = load_content(settings.content_dir, known_intents=known_intents)
        interpreter = build_interpreter(settings)
        store = Store.open(settings.database_url)
        return cls(
            content=content,
            store=store,
            interpreter=interpreter,
            timezone=settings.timezone,
            max_chars=settings.max_message_chars,
        )

    def close(self) -> None:
        self.store.close()

    # -- turns --------------------------------------------------------------------------------------

    def process(
        self, channel: str, external_id: str, text: str, *, html: bool = False, now: datetime | None = None
    ) -> TurnResult:
        """Handle one message of the customer ``(channel, external_id)`` and store the turn."""
        now = now or self._clock()
        text = clean_text(text)
        refusal: tuple[str, dict[str, Any]] | None = None
        if not text.strip():
            refusal = ("common.empty_message", {})
        elif len(text) > self.max_chars:
            refusal = ("common.too_long", {"limit": self.max_chars})

        def compute(state: State) -> tuple[Outcome, TranscriptEntry]:
            parsed = self.interpreter.parse(text, lang_hint=state.language, now=now)
            outcome = engine.step(self.content, state, parsed, now=now)
            incoming = TranscriptEntry(direction="in", text=text, intent=parsed.intent, confidence=parsed.confidence)
            return outcome, incoming

        return self._turn(channel, external_id, compute, html=html, now=now, refusal=refusal)

    def start_conversation(
        self,
        channel: str,
        external_id: str,
        *,
        language: str | None = None,
        html: bool = False,
        now: datetime | None = None,
    ) -> TurnResult:
        """The first contact (``/start``): privacy notice and language choice, in ``language`` if given."""
        now = now or self._clock()

        def compute(state: State) -> tuple[Outcome, TranscriptEntry]:
            if language in LANGUAGES:
                state = replace(state, language=language)
            return engine.start(self.content, state, now=now), TranscriptEntry(direction="in", text=START_TEXT)

        return self._turn(channel, external_id, compute, html=html, now=now)

    def conversation(self, channel: str, external_id: str) -> Conversation:
        """The stored conversation (a fresh one for a new customer); writes nothing."""
        return self.store.load(channel, external_id)

    # -- internals ----------------------------------------------------------------------------------

    def _turn(
        self,
        channel: str,
        external_id: str,
        compute: Callable[[State], tuple[Outcome, TranscriptEntry]],
        *,
        html: bool,
        now: datetime,
        refusal: tuple[str, dict[str, Any]] | None = None,
    ) -> TurnResult:
        language = LANGUAGES[0]
        try:
            for attempt in range(1, CONFLICT_RETRIES + 1):
                conversation = self.store.load(channel, external_id)
                language = conversation.state.language
                if refusal is not None:
                    template, params = refusal
                    return self._say(language, template, html=html, **params)
                outcome, incoming = compute(conversation.state)
                try:
                    return self._commit(conversation, outcome, incoming, html=html, now=now)
                except ConflictError:
                    log.info(
                        "turn of %s/%s lost a race (attempt %d); recomputing", channel, _user_ref(conversation), attempt
                    )
            log.warning("turn of %s/%s kept conflicting; giving up", channel, _user_ref(conversation))
        except StoreUnavailableError as exc:
            # The message may carry the URL, never user text; the turn was rolled back whole.
            log.error("turn not stored, database unavailable: %s", exc)
        return self._say(language, "common.error_try_again", html=html)

    def _commit(
        self, conversation: Conversation, outcome: Outcome, incoming: TranscriptEntry, *, html: bool, now: datetime
    ) -> TurnResult:
        state = outcome.state
        language = state.language
        with self.store.turn(
            conversation.channel, conversation.external_id, conversation.state.version, now=now, user=conversation.user
        ) as writer:
            replies = self._with_action_replies(outcome, writer, language, now)
            plain = [self.renderer.render(r, language, state.slots) for r in replies]
            transcript = [
                incoming,
                *(
                    TranscriptEntry(direction="out", text=p.text, template=r.template)
                    for p, r in zip(plain, replies, strict=True)
                ),
            ]
            stored = writer.record(state=state, transcript=transcript, effects=outcome.effects)
            forgotten = writer.forgotten
        rendered = [self.renderer.render(r, language, state.slots, html=True) for r in replies] if html else plain
        log.info(
            "turn %s/%s v%d: intent=%s replies=%s effects=%s",
            conversation.channel,
            _user_ref(conversation),
            stored.version,
            incoming.intent,
            ",".join(r.template for r in replies),
            ",".join(type(e).__name__ for e in outcome.effects) or "-",
        )
        return TurnResult(
            messages=tuple(OutgoingMessage(text=r.text, buttons=r.buttons, template=r.template) for r in rendered),
            language=language,
            state=None if forgotten else stored,
        )

    def _with_action_replies(self, outcome: Outcome, writer: TurnWriter, language: str, now: datetime) -> list[Reply]:
        """The turn's replies with each shell action's replies put where the engine said (``at``)."""
        inserted: dict[int, list[Reply]] = {}
        end = len(outcome.replies)
        for effect in outcome.effects:
            if isinstance(effect, RunAction):
                ctx = ShellContext(
                    writer=writer,
                    content=self.content,
                    renderer=self.renderer,
                    language=language,
                    now=now,
                    args=effect.args,
                )
                position = effect.at if 0 <= effect.at <= end else end
                inserted.setdefault(position, []).extend(self._run_action(effect, ctx))
        replies: list[Reply] = []
        for position, reply in enumerate(outcome.replies):
            replies.extend(inserted.get(position, ()))
            replies.append(reply)
        replies.extend(inserted.get(end, ()))
        return replies

    def _run_action(self, effect: RunAction, ctx: ShellContext) -> tuple[Reply, ...]:
        action = self._actions.get(effect.name)
        if action is None:
            # The loader only lets known names through, so this is a registry/content mismatch.
            log.error("no shell action %r registered; skipped", effect.name)
            return ()
        return action(ctx)

    def _say(self, language: str, template: str, *, html: bool, **params: Any) -> TurnResult:
        rendered = self.renderer.render(Reply(template=template, params=params), language, html=html)
        return TurnResult(
            messages=(OutgoingMessage(text=rendered.text, buttons=rendered.buttons, template=template),),
            language=language,
        )


def _user_ref(conversation: Conversation) -> str:
    return str(conversation.user.id) if conversation.user is not None else "new"


class Turns:
    """The async face of ``TurnProcessor``: one turn at a time per conversation key.

    Locks live only while someone holds or waits for them, so the dict does not grow with every
    customer ever seen.
    """

    def __init__(self, processor: TurnProcessor) -> None:
        self.processor = processor
        self._locks: dict[tuple[str, str], _KeyLock] = {}

    async def handle(self, channel: str, external_id: str, text: str, *, html: bool = False) -> TurnResult:
        async with self._serialised(channel, external_id):
            return await asyncio.to_thread(self.processor.process, channel, external_id, text, html=html)

    async def start(
        self, channel: str, external_id: str, *, language: str | None = None, html: bool = False
    ) -> TurnResult:
        async with self._serialised(channel, external_id):
            return await asyncio.to_thread(
                self.processor.start_conversation, channel, external_id, language=language, html=html
            )

    @property
    def active_keys(self) -> int:
        """How many conversations have a turn running or queued (for tests and metrics)."""
        return len(self._locks)

    @asynccontextmanager
    async def _serialised(self, channel: str, external_id: str) -> AsyncIterator[None]:
        key = (channel, external_id)
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = _KeyLock()
        entry.holders += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.holders -= 1
            if entry.holders == 0:
                del self._locks[key]


@dataclass(slots=True)
class _KeyLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0
