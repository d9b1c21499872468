"""Dates and times in Finnish, Swedish and English, resolved against an injected ``now``.

A small grammar of our own instead of a general date parser: customers write a handful of forms,
and each one here has a test. Theory of operation:

1. Every pattern below finds *pieces* in the original text: a date ("30.11.", "huomenna",
   "på fredag", "next Monday", "15. tammikuuta", "in 3 days"), a time ("klo 9", "14:30", "9 pm",
   "kl. 9.30") or a datetime ("tunnin päästä", "in 2 hours").
2. Overlapping pieces are resolved greedily: the earliest start wins, then the longest.
3. Adjacent pieces are merged: a date next to a time (only spaces, commas or a word such as "at",
   "klo", "på" between) becomes one ``datetime``; a weekday next to a numeric date keeps the numeric
   date; a bare weekday abbreviation ("ma", "fre", "sat") counts only next to a date or a time,
   because alone it is too often an ordinary word.

Resolution rules (``now`` is an aware datetime, converted to Europe/Helsinki first):

- A day and month without a year mean the next such date that is not in the past: on 5.12.2025
  "30.11." is 2026-11-30 and "5.12." is today.
- A weekday ("maanantaina", "på måndag", "on Monday", "next Monday", "ensi maanantaina") is the
  next such day after today, 1–7 days ahead; "tänä perjantaina"/"this Friday" may be today;
  "ensi viikon tiistaina" is the Tuesday of next week (ISO weeks, Monday first).
- "1.12" without a trailing dot is read as a date when it is a valid date and as a time only when it
  is not ("14.30", "9.00"); after "klo"/"kl"/"at" it is always a time.
- An invalid day, month or time ("32.13.", "klo 25") yields nothing rather than a guess.

Values are ISO 8601 in local Helsinki time without an offset: ``2026-11-30``, ``09:00``,
``2026-12-05T10:00``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from flows.model import Entity

HELSINKI: Final = ZoneInfo("Europe/Helsinki")
MAX_SCAN: Final = 2000
"""Only the first characters are searched: a date is never the 2001st character of a chat message."""


def _d(word: str) -> str:
    """A regex fragment that accepts the word with or without its Nordic diacritics."""
    return word.replace("ä", "[äa]").replace("ö", "[öo]").replace("å", "[åa]")


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    day: date | None = None
    clock: time | None = None
    weekday_only: bool = False
    """A weekday given by name: a neighbouring numeric date is more precise and wins."""
    weak: bool = False
    """An abbreviation ("ma", "sat") that counts only next to a date or a time."""


# --------------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------------

_FI_MONTHS: Final = (
    "tammi", "helmi", "maalis", "huhti", "touko", "kesä", "heinä", "elo", "syys", "loka", "marras", "joulu",
)  # fmt: skip
_NORDIC_EN_MONTHS: Final = {
    "januari": 1, "january": 1, "jan": 1,
    "februari": 2, "february": 2, "feb": 2,
    "mars": 3, "march": 3, "mar": 3,
    "april": 4, "apr": 4,
    "maj": 5, "may": 5,
    "juni": 6, "june": 6, "jun": 6,
    "juli": 7, "july": 7, "jul": 7,
    "augusti": 8, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9,
    "oktober": 10, "october": 10, "okt": 10, "oct": 10,
    "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip

_WEEKDAYS: Final = {
    # Finnish stems take any case ending: maanantaina, maanantaiksi, maanantaihin.
    "maanantai": 0, "tiistai": 1, "keskiviik": 2, "torstai": 3, "perjantai": 4, "lauantai": 5,
    "sunnuntai": 6,
    "måndag": 0, "tisdag": 1, "onsdag": 2, "torsdag": 3, "fredag": 4, "lördag": 5, "söndag": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
_WEEKDAY_ABBREVIATIONS: Final = {
    "fi": {"ma": 0, "ti": 1, "ke": 2, "to": 3, "pe": 4, "la": 5, "su": 6},
    "sv": {"mån": 0, "tis": 1, "ons": 2, "tors": 3, "fre": 4, "lör": 5, "sön": 6},
    "en": {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6},
}  # fmt: skip

_FI_NUMBERS: Final = {
    # Nominative and genitive ("kahden päivän päästä").
    "yksi": 1, "yhden": 1, "kaksi": 2, "kahden": 2, "kolme": 3, "kolmen": 3, "neljä": 4, "neljän": 4,
    "viisi": 5, "viiden": 5, "kuusi": 6, "kuuden": 6, "seitsemän": 7, "kahdeksan": 8, "yhdeksän": 9,
    "kymmenen": 10, "yksitoista": 11, "kaksitoista": 12, "parin": 2,
}  # fmt: skip
_SV_NUMBERS: Final = {
    "en": 1, "ett": 1, "två": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "sju": 7, "åtta": 8, "nio": 9,
    "tio": 10, "elva": 11, "tolv": 12, "ett par": 2,
}  # fmt: skip
_EN_NUMBERS: Final = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2,
}  # fmt: skip
_NUMBER_WORDS: Final = {**_FI_NUMBERS, **_SV_NUMBERS, **_EN_NUMBERS}


def _alternatives(words: Iterable[str]) -> str:
    """A regex alternation, longest first so that "tors" is tried before "to"."""
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(_d(re.escape(w)) for w in ordered)


def _lookup(table: dict[str, int], word: str) -> int | None:
    """Find ``word`` in a table whose keys may carry diacritics the customer left out."""
    key = " ".join(word.casefold().split())
    if key in table:
        return table[key]
    plain = key.replace("ä", "a").replace("ö", "o").replace("å", "a")
    for name, value in table.items():
        if name.replace("ä", "a").replace("ö", "o").replace("å", "a") == plain:
            return value
    return None


# --------------------------------------------------------------------------------------------------
# Patterns
# --------------------------------------------------------------------------------------------------

_FLAGS: Final = re.IGNORECASE | re.UNICODE
_TIME_MARKER: Final = r"(?:klo|kello|kl|klockan|at|@)\.?"
_NORDIC_TIME_MARKER: Final = r"(?:klo|kello|kl|klockan)\.?"
_AMPM: Final = r"(?P<ampm>[ap]\.?\s?m\b\.?)"
# Hours in words only after a Nordic marker: "kello kymmenen", "klockan nio" ("at one point" is no time).
_HOUR_WORDS: Final = _alternatives(w for w in {**_FI_NUMBERS, **_SV_NUMBERS} if " " not in w and len(w) > 2)

_MARKED_TIME: Final = re.compile(
    rf"(?<!\w)(?:{_TIME_MARKER}\s*(?P<h>\d{{1,2}})(?:[.:](?P<min>\d{{2}}))?(?![\d.:]\d)(?:\s*{_AMPM})?"
    rf"|{_NORDIC_TIME_MARKER}\s*(?P<hword>{_HOUR_WORDS})\b)",
    _FLAGS,
)
_COLON_TIME: Final = re.compile(rf"(?<![\w:.])(?P<h>\d{{1,2}}):(?P<min>\d{{2}})(?![\d:])(?:\s*{_AMPM})?", _FLAGS)
_AMPM_TIME: Final = re.compile(rf"(?<![\w:.])(?P<h>\d{{1,2}})(?:[.:](?P<min>\d{{2}}))?\s*{_AMPM}", _FLAGS)
_NOON: Final = re.compile(r"\b(?:noon|midday|keskipäivällä)\b", _FLAGS)
_NUMERIC: Final = re.compile(
    r"(?<![\w.,:/+-])(?P<d>\d{1,2})(?P<sep>[./])(?P<m>\d{1,2})(?:(?P<dot>[./])(?P<y>\d{4}|\d{2})?)?"
    r"(?![\w]|[.:,/]\d)",
    _FLAGS,
)
_ISO_DATE: Final = re.compile(r"(?<![\w.-])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?![\w]|-\d)", _FLAGS)
_FI_MONTH: Final = rf"(?P<fm>{_alternatives(_FI_MONTHS)})kuu\w*"
_FI_MONTH_DAY: Final = re.compile(
    rf"\b{_FI_MONTH}\s+(?P<d>\d{{1,2}})\.?(?:\s*(?:{_d('päivä')}\w*|pv))?(?:\s+(?P<y>\d{{4}}))?(?!\d)", _FLAGS
)
_FI_DAY_MONTH: Final = re.compile(
    rf"(?<![\w.])(?P<d>\d{{1,2}})\.?\s*(?:{_d('päivä')}\w*\s+)?{_FI_MONTH}(?:\s+(?P<y>\d{{4}}))?(?!\d)", _FLAGS
)
_MONTH: Final = rf"(?P<mn>{_alternatives(_NORDIC_EN_MONTHS)})\b\.?"
_ORDINAL: Final = r"(?:st|nd|rd|th|:e|:a)?"
_DAY_MONTH: Final = re.compile(
    rf"(?<![\w.])(?:den\s+|the\s+)?(?P<d>\d{{1,2}}){_ORDINAL}\.?\s+(?:of\s+)?{_MONTH}(?:,?\s+(?P<y>\d{{4}}))?(?!\d)",
    _FLAGS,
)
_MONTH_DAY: Final = re.compile(
    rf"\b{_MONTH}\s+(?:the\s+)?(?P<d>\d{{1,2}}){_ORDINAL}\b(?:,?\s+(?P<y>\d{{4}}))?(?!\d)", _FLAGS
)
_RELATIVE_DAYS: Final = (
    (re.compile(r"\b(?:yli)(?:huomenna|huomis\w*|huominen)\b", _FLAGS), 2),
    (re.compile(r"\b(?:huomenna|huomis\w*|huominen)\b", _FLAGS), 1),
    (re.compile(rf"\b(?:{_d('tänään')}|{_d('tänä')}\s+(?:iltana|aamuna|päivänä))\b", _FLAGS), 0),
    (re.compile(r"\beilen\b", _FLAGS), -1),
    (re.compile(rf"\bi\s*{_d('övermorgon')}\b", _FLAGS), 2),
    (re.compile(r"\bi\s*morg[oe]n(?:\s+bitti)?\b|\bi\s*morron\b", _FLAGS), 1),
    (re.compile(rf"\bi\s*dag\b|\bi\s*{_d('kväll')}\b", _FLAGS), 0),
    (re.compile(rf"\bi\s*{_d('går')}\b", _FLAGS), -1),
    (re.compile(r"\b(?:the\s+)?day\s+after\s+tomorrow\b", _FLAGS), 2),
    (re.compile(r"\btomorrow\b", _FLAGS), 1),
    (re.compile(r"\b(?:today|tonight)\b", _FLAGS), 0),
    (re.compile(r"\byesterday\b", _FLAGS), -1),
)
_WEEKDAY: Final = re.compile(
    rf"(?<!\w)(?:(?P<nextweek>ensi\s+viikon|seuraavan\s+viikon|{_d('nästa')}\s+veckas?)\s+"
    rf"|(?P<this>{_d('tänä')}|this)\s+"
    rf"|(?:ensi|tulevana|seuraavana|{_d('nästa')}|kommande|{_d('på')}|next|on|this\s+coming|coming)\s+)?"
    rf"(?P<wd>{_alternatives(_WEEKDAYS)})\w*",
    _FLAGS,
)
_WEEKDAY_ABBREVIATION: Final = {
    language: re.compile(rf"(?<![\w.])(?P<wd>{_alternatives(table)})\b\.?", _FLAGS)
    for language, table in _WEEKDAY_ABBREVIATIONS.items()
}
_COUNT: Final = rf"(?P<n>\d{{1,3}}|{_alternatives(_NUMBER_WORDS)})"
_IN_FI: Final = re.compile(
    rf"(?<!\w)(?:{_COUNT}\s+|(?P<half>puolen)\s+)?"
    rf"(?P<u>{_d('päivän')}|vuorokauden|viikon|kuukauden|tunnin|minuutin)\s+{_d('päästä')}\b",
    _FLAGS,
)
_IN_SV_EN: Final = re.compile(
    rf"\b(?:om|in)\s+(?:{_COUNT}|(?P<half>en\s+halv|half\s+an))\s+"
    rf"(?P<u>dagar|dag|dygn|veckor|vecka|{_d('månader')}|{_d('månad')}|timmar|timme|minuter|minut"
    rf"|days?|weeks?|months?|hours?|minutes?|mins?)\b",
    _FLAGS,
)
_EVENING: Final = re.compile(
    rf"\s*(?:{_d('illalla')}|{_d('iltapäivällä')}|{_d('på')}\s+(?:{_d('kvällen')}|eftermiddagen)"
    rf"|in\s+the\s+(?:evening|afternoon))\b",
    _FLAGS,
)
_CONNECTOR: Final = re.compile(
    rf"[\s,]*(?:(?:at|on|klo|kello|kl\.?|klockan|{_d('på')}|den|ja|och|and)\s+)?[\s,]*", _FLAGS
)


# --------------------------------------------------------------------------------------------------
# Finding pieces
# --------------------------------------------------------------------------------------------------


def find_dates(text: str, now: datetime, language: str | None = None) -> tuple[Entity, ...]:
    """Every date, time and datetime in ``text``, resolved against ``now``.

    Args:
        text: the message as the customer wrote it; spans index into it.
        now: the current instant; naive values are taken as Helsinki time.
        language: the message's language, if known. It picks which weekday abbreviations count:
            English "to 10:30" is no Thursday. Unknown means none at all.
    """
    local = now.astimezone(HELSINKI) if now.tzinfo is not None else now.replace(tzinfo=HELSINKI)
    scanned = text[:MAX_SCAN]
    pieces = [p for finder in _FINDERS for p in finder(scanned, local)]
    if language in _WEEKDAY_ABBREVIATIONS:
        pieces.extend(_weekday_abbreviations(scanned, local, language))
    chosen = _non_overlapping(pieces)
    return tuple(_entity(text, p) for p in _merge(scanned, chosen))


def _marked_times(text: str, now: datetime) -> Iterator[_Piece]:
    for m in _MARKED_TIME.finditer(text):
        hour = _lookup(_NUMBER_WORDS, m["hword"]) if m["hword"] else int(m["h"])
        clock = _clock(hour, m["min"], m["ampm"])
        if clock is not None:
            yield _evening(text, _Piece(m.start(), m.end(), clock=clock))


def _plain_times(text: str, now: datetime) -> Iterator[_Piece]:
    for pattern in (_COLON_TIME, _AMPM_TIME):
        for m in pattern.finditer(text):
            clock = _clock(int(m["h"]), m["min"], m["ampm"])
            if clock is not None:
                yield _evening(text, _Piece(m.start(), m.end(), clock=clock))
    for m in _NOON.finditer(text):
        yield _Piece(m.start(), m.end(), clock=time(12, 0))


def _numeric(text: str, now: datetime) -> Iterator[_Piece]:
    for m in _NUMERIC.finditer(text):
        first, second = int(m["d"]), int(m["m"])
        if m["y"] is not None:
            day = _explicit_date(_year(m["y"]), second, first)
        elif m["sep"] == "/" or m["dot"] is not None:
            day = _next_date(now.date(), second, first)
        else:
            day = _next_date(now.date(), second, first)
            if day is None or len(m["m"]) != 2:
                # "14.30" and "9.00" cannot be dates: read them as times.
                clock = _clock(first, m["m"], None) if len(m["m"]) == 2 else None
                if clock is not None:
                    yield _evening(text, _Piece(m.start(), m.end(), clock=clock))
                continue
        if day is not None:
            yield _Piece(m.start(), m.end(), day=day)
        elif m["y"] is None and m["sep"] == "." and len(m["m"]) == 2:
            # "14.30." at the end of a sentence: the dot ends the sentence, not a date.
            clock = _clock(first, m["m"], None)
            if clock is not None:
                yield _Piece(m.start(), m.start() + len(m["d"]) + 1 + len(m["m"]), clock=clock)
    for m in _ISO_DATE.finditer(text):
        day = _explicit_date(int(m["y"]), int(m["m"]), int(m["d"]))
        if day is not None:
            yield _Piece(m.start(), m.end(), day=day)


def _month_names(text: str, now: datetime) -> Iterator[_Piece]:
    for pattern in (_FI_MONTH_DAY, _FI_DAY_MONTH):
        for m in pattern.finditer(text):
            month = 1 + next(i for i, stem in enumerate(_FI_MONTHS) if _same(stem, m["fm"]))
            yield from _day_of(m, month, now)
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for m in pattern.finditer(text):
            named = _lookup(_NORDIC_EN_MONTHS, m["mn"])
            if named is not None:
                yield from _day_of(m, named, now)


def _day_of(m: re.Match[str], month: int, now: datetime) -> Iterator[_Piece]:
    day_number = int(m["d"])
    day = _explicit_date(int(m["y"]), month, day_number) if m["y"] else _next_date(now.date(), month, day_number)
    if day is not None:
        yield _Piece(m.start(), m.end(), day=day)


def _relative_days(text: str, now: datetime) -> Iterator[_Piece]:
    for pattern, offset in _RELATIVE_DAYS:
        for m in pattern.finditer(text):
            yield _Piece(m.start(), m.end(), day=now.date() + timedelta(days=offset))


def _weekdays(text: str, now: datetime) -> Iterator[_Piece]:
    today = now.date()
    for m in _WEEKDAY.finditer(text):
        weekday = _weekday_of(m["wd"])
        if m["nextweek"]:
            monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
            day = monday + timedelta(days=weekday)
        else:
            ahead = (weekday - today.weekday()) % 7
            if ahead == 0 and not m["this"]:
                ahead = 7
            day = today + timedelta(days=ahead)
        yield _Piece(m.start(), m.end(), day=day, weekday_only=True)


def _weekday_abbreviations(text: str, now: datetime, language: str) -> Iterator[_Piece]:
    today = now.date()
    for m in _WEEKDAY_ABBREVIATION[language].finditer(text):
        weekday = _lookup(_WEEKDAY_ABBREVIATIONS[language], m["wd"])
        if weekday is not None:
            ahead = (weekday - today.weekday()) % 7 or 7
            day = today + timedelta(days=ahead)
            yield _Piece(m.start(), m.end(), day=day, weekday_only=True, weak=True)


def _offsets(text: str, now: datetime) -> Iterator[_Piece]:
    for pattern in (_IN_FI, _IN_SV_EN):
        for m in pattern.finditer(text):
            unit = m["u"].casefold()
            if m["half"]:
                count = 0.5
            elif m["n"] is None:
                count = 1.0
            elif m["n"].isdigit():
                count = float(m["n"])
            else:
                found = _lookup(_NUMBER_WORDS, m["n"])
                if found is None:
                    continue
                count = float(found)
            piece = _offset_piece(m.start(), m.end(), unit, count, now)
            if piece is not None:
                yield piece


def _offset_piece(start: int, end: int, unit: str, count: float, now: datetime) -> _Piece | None:
    stem = unit.replace("ä", "a").replace("å", "a")
    if stem.startswith(("tun", "tim", "hour")):
        moment = now + timedelta(hours=count)
    elif stem.startswith(("min",)):
        moment = now + timedelta(minutes=count)
    elif stem.startswith(("viik", "veck", "week")):
        return _Piece(start, end, day=now.date() + timedelta(days=round(7 * count)))
    elif stem.startswith(("kuuk", "manad", "month")):
        return _Piece(start, end, day=_add_months(now.date(), max(1, round(count))))
    else:
        return _Piece(start, end, day=now.date() + timedelta(days=round(count)))
    moment = moment.replace(second=0, microsecond=0)
    return _Piece(start, end, day=moment.date(), clock=moment.time())


_FINDERS: Final[tuple[Callable[[str, datetime], Iterator[_Piece]], ...]] = (
    _marked_times,
    _plain_times,
    _numeric,
    _month_names,
    _relative_days,
    _weekdays,
    _offsets,
)


# --------------------------------------------------------------------------------------------------
# Choosing and merging
# --------------------------------------------------------------------------------------------------


def _non_overlapping(pieces: list[_Piece]) -> list[_Piece]:
    chosen: list[_Piece] = []
    for piece in sorted(pieces, key=lambda p: (p.start, -(p.end - p.start))):
        if chosen and piece.start < chosen[-1].end:
            continue
        chosen.append(piece)
    return chosen


def _merge(text: str, pieces: list[_Piece]) -> list[_Piece]:
    """Join a date and an adjacent time into a datetime, and drop lone weekday abbreviations."""
    merged: list[_Piece] = []
    for piece in pieces:
        if merged and _adjacent(text, merged[-1], piece):
            joined = _join(merged[-1], piece)
            if joined is not None:
                merged[-1] = joined
                continue
        merged.append(piece)
    return [p for p in merged if not p.weak]


def _adjacent(text: str, left: _Piece, right: _Piece) -> bool:
    gap = text[left.end : right.start]
    return _CONNECTOR.fullmatch(gap) is not None


def _join(left: _Piece, right: _Piece) -> _Piece | None:
    start, end = left.start, right.end
    if left.day is not None and right.day is not None:
        if left.clock is not None or right.clock is not None:
            return None
        if left.weekday_only and not right.weekday_only:
            return replace(right, start=start, end=end, weak=False)
        if right.weekday_only and not left.weekday_only:
            return replace(left, start=start, end=end, weak=False)
        return None
    if left.day is not None and left.clock is None and right.day is None and right.clock is not None:
        return _Piece(start, end, day=left.day, clock=right.clock)
    if left.day is None and left.clock is not None and right.day is not None and right.clock is None:
        return _Piece(start, end, day=right.day, clock=left.clock)
    return None


def _entity(text: str, piece: _Piece) -> Entity:
    if piece.day is not None and piece.clock is not None:
        kind, value = "datetime", datetime.combine(piece.day, piece.clock).isoformat(timespec="minutes")
    elif piece.day is not None:
        kind, value = "date", piece.day.isoformat()
    else:
        assert piece.clock is not None
        kind, value = "time", piece.clock.isoformat(timespec="minutes")
    return Entity(type=kind, value=value, text=text[piece.start : piece.end], start=piece.start, end=piece.end)


# --------------------------------------------------------------------------------------------------
# Calendar arithmetic
# --------------------------------------------------------------------------------------------------


def _clock(hour: int | None, minute: str | None, ampm: str | None) -> time | None:
    if hour is None:
        return None
    minutes = int(minute) if minute else 0
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.casefold().startswith("p") else 0)
    if hour == 24 and minutes == 0:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minutes <= 59):
        return None
    return time(hour, minutes)


def _evening(text: str, piece: _Piece) -> _Piece:
    """ "klo 6 illalla", "kl 6 på kvällen", "6 in the evening": the afternoon or evening hour."""
    m = _EVENING.match(text, piece.end)
    if m is None or piece.clock is None:
        return piece
    clock = piece.clock
    if clock.hour < 12:
        clock = clock.replace(hour=clock.hour + 12)
    return replace(piece, end=m.end(), clock=clock)


def _year(text: str) -> int:
    return 2000 + int(text) if len(text) == 2 else int(text)


def _explicit_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_date(today: date, month: int, day: int) -> date | None:
    """The first ``day``.``month``. on or after ``today`` (29.2. may be years ahead)."""
    for year in range(today.year, today.year + 9):
        candidate = _explicit_date(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (day.day, 30, 29, 28):
        candidate = _explicit_date(year, month, min(day.day, last))
        if candidate is not None:
            return candidate
    raise AssertionError("unreachable: the 28th exists in every month")


def _weekday_of(word: str) -> int:
    folded = word.casefold()
    for stem, weekday in _WEEKDAYS.items():
        if _same(stem, folded[: len(stem)]):
            return weekday
    raise AssertionError(f"pattern matched an unknown weekday {word!r}")


def _same(stem: str, word: str) -> bool:
    strip = str.maketrans("äöå", "aoa")
    return stem.casefold().translate(strip) == word.casefold().translate(strip)
