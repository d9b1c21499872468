"""Personal data in a message: Finnish identity codes, phone numbers, e-mail addresses; and redaction.

The store keeps conversation transcripts only after ``redact`` has replaced these with ``[HETU]``,
``[PHONE]`` and ``[EMAIL]``; the logs never see user text at all.

A henkilötunnus (personal identity code) is ``DDMMYYCZZZQ``: birth date, a century sign (``+`` 1800s;
``-`` or ``Y X W V U`` 1900s; ``A B C D E F`` 2000s), an individual number and a check character,
``DDMMYYZZZ mod 31`` looked up in ``0123456789ABCDEFHJKLMNPRSTUVWXY``. As an *entity* it must pass the
checksum; *redaction* also hides codes with a wrong check character, because a mistyped code is still
somebody's birth date and individual number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Final

import phonenumbers

from flows.model import Entity

HETU_CHECK_CHARACTERS: Final = "0123456789ABCDEFHJKLMNPRSTUVWXY"
CENTURY_SIGNS: Final = {
    "+": 1800,
    "-": 1900, "Y": 1900, "X": 1900, "W": 1900, "V": 1900, "U": 1900,
    "A": 2000, "B": 2000, "C": 2000, "D": 2000, "E": 2000, "F": 2000,
}  # fmt: skip
PHONE_REGION: Final = "FI"
REDACTED_HETU: Final = "[HETU]"
REDACTED_PHONE: Final = "[PHONE]"
REDACTED_EMAIL: Final = "[EMAIL]"

_HETU: Final = re.compile(
    r"(?<![\w+-])(?P<dd>\d{2})(?P<mm>\d{2})(?P<yy>\d{2})(?P<sign>[-+A-FU-Y])(?P<nnn>\d{3})(?P<check>[0-9A-Y])(?!\w)",
    re.IGNORECASE,
)
_EMAIL: Final = re.compile(
    r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])",
    re.UNICODE,
)


def hetu_is_valid(code: str) -> bool:
    """True for a henkilötunnus with a real birth date and the right check character."""
    m = _HETU.fullmatch(code.strip())
    return m is not None and _birth_date(m) is not None and _check_ok(m)


def find_hetus(text: str) -> tuple[Entity, ...]:
    """Checksum-valid identity codes, upper-cased."""
    return tuple(
        Entity(type="hetu", value=m.group(0).upper(), text=m.group(0), start=m.start(), end=m.end())
        for m in _HETU.finditer(text)
        if _birth_date(m) is not None and _check_ok(m)
    )


def find_emails(text: str) -> tuple[Entity, ...]:
    """E-mail addresses, lower-cased."""
    return tuple(
        Entity(type="email", value=m.group(0).lower(), text=m.group(0), start=m.start(), end=m.end())
        for m in _EMAIL.finditer(text)
    )


def find_phones(text: str) -> tuple[Entity, ...]:
    """Valid phone numbers (Finnish unless written with a country code), in E.164.

    Identity codes and e-mail addresses are blanked out first so that their digits never read as
    a phone number.
    """
    masked = _mask(text, [(m.start(), m.end()) for m in _HETU.finditer(text)] + _spans(_EMAIL, text))
    return tuple(
        Entity(
            type="phone",
            value=phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164),
            text=text[match.start : match.end],
            start=match.start,
            end=match.end,
        )
        for match in phonenumbers.PhoneNumberMatcher(masked, PHONE_REGION, phonenumbers.Leniency.VALID)
    )


def redact(text: str) -> str:
    """``text`` with identity codes, phone numbers and e-mail addresses replaced by placeholders.

    >>> redact("hetu 131052-308T, puh 040 123 4567, maija@example.fi")
    'hetu [HETU], puh [PHONE], [EMAIL]'
    """
    spans = sorted(_redactions(text), key=lambda s: s[0])
    parts: list[str] = []
    position = 0
    for start, end, placeholder in spans:
        if start < position:
            continue
        parts.append(text[position:start])
        parts.append(placeholder)
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _redactions(text: str) -> Iterator[tuple[int, int, str]]:
    hetus = [(m.start(), m.end()) for m in _HETU.finditer(text) if _birth_date(m) is not None]
    emails = _spans(_EMAIL, text)
    for start, end in hetus:
        yield start, end, REDACTED_HETU
    for start, end in emails:
        yield start, end, REDACTED_EMAIL
    masked = _mask(text, hetus + emails)
    for match in phonenumbers.PhoneNumberMatcher(masked, PHONE_REGION, phonenumbers.Leniency.VALID):
        yield match.start, match.end, REDACTED_PHONE


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """Blank out spans with spaces of the same length, so that offsets stay valid."""
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _birth_date(m: re.Match[str]) -> date | None:
    year = CENTURY_SIGNS[m["sign"].upper()] + int(m["yy"])
    try:
        return date(year, int(m["mm"]), int(m["dd"]))
    except ValueError:
        return None


def _check_ok(m: re.Match[str]) -> bool:
    number = int(m["dd"] + m["mm"] + m["yy"] + m["nnn"])
    return HETU_CHECK_CHARACTERS[number % 31] == m["check"].upper()
