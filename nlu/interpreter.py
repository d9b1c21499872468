"""The NLU seam: one ``parse`` method, met by the built-in model and by a Rasa server client.

``Interpreter`` is what ``bot/turns.py`` calls. ``NLUModel`` satisfies it directly;
``RasaInterpreter`` asks a running Rasa 3.6 server (``POST /model/parse``) for the intent and keeps
the built-in model for everything Rasa's pipeline does not do here: language identification,
dates, identity codes, phones, e-mails and counts, and ``/intent`` button payloads.

When Rasa cannot be reached, times out, or answers with an error, the built-in model answers alone.
That is logged once when Rasa goes away and once when it is back, never per message (and never
with the message text). The call blocks for up to ``timeout`` seconds: async callers run ``parse``
in a thread, as ``bot/rest.py`` does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Protocol

import httpx

from flows.model import OUT_OF_SCOPE, Entity, IntentScore, ParsedMessage

logger = logging.getLogger(__name__)

RASA_FALLBACK_INTENT: Final = "nlu_fallback"
"""What Rasa's FallbackClassifier predicts below its threshold: our ``out_of_scope``."""
DEFAULT_TIMEOUT: Final = 2.0


class Interpreter(Protocol):
    """Text in, ``ParsedMessage`` out."""

    def parse(self, text: str, lang_hint: str | None = None, now: datetime | None = None) -> ParsedMessage: ...


def to_rasa_json(parsed: ParsedMessage) -> dict[str, Any]:
    """A parse in the shape of Rasa's ``/model/parse`` answer (plus ``language``)."""
    return {
        "text": parsed.text,
        "intent": {"name": parsed.intent, "confidence": round(parsed.confidence, 6)},
        "intent_ranking": [{"name": s.name, "confidence": round(s.confidence, 6)} for s in parsed.ranking],
        "entities": [
            {"entity": e.type, "value": e.value, "start": e.start, "end": e.end, "text": e.text}
            for e in parsed.entities
        ],
        "language": parsed.language,
    }


def from_rasa_json(answer: Mapping[str, Any], local: ParsedMessage) -> ParsedMessage:
    """Rasa's intent and ranking on top of the built-in ``local`` parse of the same text.

    Rasa's own entities are added where they do not overlap ours; ``nlu_fallback`` becomes
    ``out_of_scope``.

    Raises:
        ValueError: the answer is not shaped like Rasa's.
    """
    intent = answer.get("intent")
    if not isinstance(intent, Mapping) or not isinstance(intent.get("name"), str):
        raise ValueError("no intent.name in Rasa's answer")
    ranking = tuple(
        IntentScore(name=_intent_name(item["name"]), confidence=float(item.get("confidence") or 0.0))
        for item in answer.get("intent_ranking") or ()
        if isinstance(item, Mapping) and isinstance(item.get("name"), str)
    )
    entities = list(local.entities)
    for item in answer.get("entities") or ():
        entity = _rasa_entity(item, local.text)
        if entity is not None and not any(entity.start < e.end and e.start < entity.end for e in entities):
            entities.append(entity)
    return ParsedMessage(
        text=local.text,
        intent=_intent_name(intent["name"]),
        confidence=float(intent.get("confidence") or 0.0),
        ranking=ranking,
        entities=tuple(sorted(entities, key=lambda e: e.start)),
        language=local.language,
    )


class RasaInterpreter:
    """Intents from a Rasa server; the built-in ``fallback`` for the rest and whenever Rasa fails."""

    def __init__(
        self,
        url: str,
        fallback: Interpreter,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.fallback = fallback
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._lock = threading.Lock()
        self._down = False

    def parse(self, text: str, lang_hint: str | None = None, now: datetime | None = None) -> ParsedMessage:
        local = self.fallback.parse(text, lang_hint, now)
        if not text.strip() or text.lstrip().startswith("/"):
            return local
        try:
            response = self._client.post(f"{self.url}/model/parse", json={"text": text})
            response.raise_for_status()
            parsed = from_rasa_json(response.json(), local)
        except (httpx.HTTPError, ValueError) as exc:
            self._mark(down=True, reason=exc.__class__.__name__)
            return local
        self._mark(down=False, reason="")
        return parsed

    def close(self) -> None:
        self._client.close()

    def _mark(self, *, down: bool, reason: str) -> None:
        with self._lock:
            if down == self._down:
                return
            self._down = down
        if down:
            logger.warning(
                "Rasa at %s is not answering (%s); using the built-in NLU until it is back", self.url, reason
            )
        else:
            logger.info("Rasa at %s answers again", self.url)


def _intent_name(name: str) -> str:
    return OUT_OF_SCOPE if name == RASA_FALLBACK_INTENT else name


def _rasa_entity(item: Any, text: str) -> Entity | None:
    if not isinstance(item, Mapping):
        return None
    start, end, kind = item.get("start"), item.get("end"), item.get("entity")
    if not (isinstance(start, int) and isinstance(end, int) and isinstance(kind, str) and 0 <= start <= end):
        return None
    return Entity(type=kind, value=str(item.get("value", text[start:end])), text=text[start:end], start=start, end=end)
