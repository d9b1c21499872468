"""All entities of one message, without overlaps: personal data first, then dates, then counts.

Priority decides overlaps: an identity code's digits are no date, a phone number's digits are no
count, and "30.11." is a date rather than the number 30. Counts ("4 hakemusta", "fyra ansökningar",
"three applications") are integers not covered by anything else; number words count only in the
message's language, because Swedish "en" (one) is Finnish "I don't".
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from flows.model import Entity
from nlu.dates import MAX_SCAN, find_dates
from nlu.pii import find_emails, find_hetus, find_phones

_DIGITS: Final = re.compile(r"(?<![\w.,:/+-])\d{1,6}(?![\w-]|[.,:/]\d)")
_NUMBER_WORDS: Final = {
    "fi": {
        "yksi": 1, "kaksi": 2, "kolme": 3, "neljä": 4, "nelja": 4, "viisi": 5, "kuusi": 6,
        "seitsemän": 7, "seitseman": 7, "kahdeksan": 8, "yhdeksän": 9, "yhdeksan": 9, "kymmenen": 10,
    },
    "sv": {
        "en": 1, "ett": 1, "två": 2, "tva": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "sju": 7,
        "åtta": 8, "atta": 8, "nio": 9, "tio": 10,
    },
    "en": {
        "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
        "nine": 9, "ten": 10,
    },
}  # fmt: skip
_NUMBER_WORD_PATTERNS: Final = {
    language: re.compile(r"\b(?:" + "|".join(sorted(words, key=len, reverse=True)) + r")\b", re.IGNORECASE)
    for language, words in _NUMBER_WORDS.items()
}


def extract(text: str, now: datetime, language: str | None = None) -> tuple[Entity, ...]:
    """Every entity in the first ``MAX_SCAN`` characters of ``text``, ordered by position.

    Args:
        text: the message as written; spans index into it.
        now: the current instant, for resolving "huomenna" or "next Monday".
        language: the message's language if known (number words, weekday abbreviations).
    """
    scanned = text[:MAX_SCAN]
    found: list[Entity] = []
    for group in (
        find_hetus(scanned),
        find_emails(scanned),
        find_phones(scanned),
        find_dates(scanned, now, language),
        find_counts(scanned, language),
    ):
        found.extend(e for e in group if not any(_overlaps(e, other) for other in found))
    return tuple(sorted(found, key=lambda e: e.start))


def find_counts(text: str, language: str | None = None) -> tuple[Entity, ...]:
    """Integers written in digits, and number words one to ten in ``language``."""
    counts = [
        Entity(type="number", value=str(int(m.group(0))), text=m.group(0), start=m.start(), end=m.end())
        for m in _DIGITS.finditer(text)
    ]
    if language in _NUMBER_WORD_PATTERNS:
        words = _NUMBER_WORDS[language]
        for m in _NUMBER_WORD_PATTERNS[language].finditer(text):
            value = str(words[m.group(0).casefold()])
            counts.append(Entity(type="number", value=value, text=m.group(0), start=m.start(), end=m.end()))
    return tuple(sorted(counts, key=lambda e: e.start))


def _overlaps(a: Entity, b: Entity) -> bool:
    return a.start < b.end and b.start < a.end
