"""nlu.dates: the date and time grammar, resolved against an injected now in Europe/Helsinki."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from nlu.dates import find_dates

HELSINKI = ZoneInfo("Europe/Helsinki")
FRIDAY = datetime(2025, 12, 5, 14, 0, tzinfo=HELSINKI)
"""Friday 5 December 2025, 14.00."""
NEW_YEARS_EVE = datetime(2025, 12, 31, 20, 0, tzinfo=HELSINKI)
"""Wednesday 31 December 2025, 20.00."""


def found(text: str, now: datetime = FRIDAY, language: str | None = None) -> list[tuple[str, str, str]]:
    return [(e.type, e.value, e.text) for e in find_dates(text, now, language)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Numeric dates: no year means the next such day that is not in the past.
        ("30.11.", [("date", "2026-11-30", "30.11.")]),
        ("muistuta 5.12.", [("date", "2025-12-05", "5.12.")]),
        ("6.12.", [("date", "2025-12-06", "6.12.")]),
        ("5.12.2026 klo 10", [("datetime", "2026-12-05T10:00", "5.12.2026 klo 10")]),
        ("1.2.24", [("date", "2024-02-01", "1.2.24")]),
        ("2026-03-01", [("date", "2026-03-01", "2026-03-01")]),
        ("30/11", [("date", "2026-11-30", "30/11")]),
        ("perjantaina 12.12.", [("date", "2025-12-12", "perjantaina 12.12.")]),
        ("29.2.", [("date", "2028-02-29", "29.2.")]),
        # A dot-number that cannot be a date is a time; one that can is a date.
        ("14.30", [("time", "14:30", "14.30")]),
        ("tapaaminen 9.00", [("time", "09:00", "9.00")]),
        ("1.12", [("date", "2026-12-01", "1.12")]),
        ("klo 14.30.", [("time", "14:30", "klo 14.30")]),
        ("nähdään 14.30.", [("time", "14:30", "14.30")]),
        # Finnish words.
        ("huomenna", [("date", "2025-12-06", "huomenna")]),
        ("ylihuomenna", [("date", "2025-12-07", "ylihuomenna")]),
        ("tänään klo 18", [("datetime", "2025-12-05T18:00", "tänään klo 18")]),
        ("tanaan", [("date", "2025-12-05", "tanaan")]),
        ("huomisaamuna klo 8.30", [("datetime", "2025-12-06T08:30", "huomisaamuna klo 8.30")]),
        ("muistuta mua huomenna klo 9", [("datetime", "2025-12-06T09:00", "huomenna klo 9")]),
        ("klo 10 huomenna", [("datetime", "2025-12-06T10:00", "klo 10 huomenna")]),
        ("maanantaina", [("date", "2025-12-08", "maanantaina")]),
        ("ensi maanantaina", [("date", "2025-12-08", "ensi maanantaina")]),
        ("muistuta keskiviikoksi", [("date", "2025-12-10", "keskiviikoksi")]),
        ("perjantaina", [("date", "2025-12-12", "perjantaina")]),
        ("tänä perjantaina", [("date", "2025-12-05", "tänä perjantaina")]),
        ("ensi viikon tiistaina", [("date", "2025-12-09", "ensi viikon tiistaina")]),
        (
            "ensi viikon tiistaina kello kymmenen",
            [("datetime", "2025-12-09T10:00", "ensi viikon tiistaina kello kymmenen")],
        ),
        ("tammikuun 15. päivä", [("date", "2026-01-15", "tammikuun 15. päivä")]),
        ("15. tammikuuta 2027", [("date", "2027-01-15", "15. tammikuuta 2027")]),
        ("kolmen päivän päästä", [("date", "2025-12-08", "kolmen päivän päästä")]),
        ("viikon päästä", [("date", "2025-12-12", "viikon päästä")]),
        ("tunnin päästä", [("datetime", "2025-12-05T15:00", "tunnin päästä")]),
        ("15 minuutin päästä", [("datetime", "2025-12-05T14:15", "15 minuutin päästä")]),
        ("puolen tunnin päästä", [("datetime", "2025-12-05T14:30", "puolen tunnin päästä")]),
        ("kuukauden päästä", [("date", "2026-01-05", "kuukauden päästä")]),
        ("klo 9", [("time", "09:00", "klo 9")]),
        ("kello 13:15", [("time", "13:15", "kello 13:15")]),
        ("klo 6 illalla", [("time", "18:00", "klo 6 illalla")]),
        # Swedish.
        ("i morgon kl 9", [("datetime", "2025-12-06T09:00", "i morgon kl 9")]),
        ("imorgon", [("date", "2025-12-06", "imorgon")]),
        ("i övermorgon", [("date", "2025-12-07", "i övermorgon")]),
        ("i overmorgon kl. 10.15", [("datetime", "2025-12-07T10:15", "i overmorgon kl. 10.15")]),
        ("på fredag", [("date", "2025-12-12", "på fredag")]),
        ("nästa måndag", [("date", "2025-12-08", "nästa måndag")]),
        ("kan vi flytta mötet till torsdag kl 13?", [("datetime", "2025-12-11T13:00", "torsdag kl 13")]),
        ("den 24 december", [("date", "2025-12-24", "den 24 december")]),
        ("om en vecka", [("date", "2025-12-12", "om en vecka")]),
        ("om två timmar", [("datetime", "2025-12-05T16:00", "om två timmar")]),
        # English.
        ("next Monday", [("date", "2025-12-08", "next Monday")]),
        ("remind me on Monday about the plan", [("date", "2025-12-08", "on Monday")]),
        ("tomorrow at 9", [("datetime", "2025-12-06T09:00", "tomorrow at 9")]),
        ("the day after tomorrow", [("date", "2025-12-07", "the day after tomorrow")]),
        ("at 9:30 pm", [("time", "21:30", "at 9:30 pm")]),
        ("3pm", [("time", "15:00", "3pm")]),
        ("December 24th", [("date", "2025-12-24", "December 24th")]),
        ("15th of January", [("date", "2026-01-15", "15th of January")]),
        ("in 3 days", [("date", "2025-12-08", "in 3 days")]),
        ("in an hour", [("datetime", "2025-12-05T15:00", "in an hour")]),
        ("noon", [("time", "12:00", "noon")]),
    ],
)
def test_forms(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("huomenna", [("date", "2026-01-01", "huomenna")]),
        ("ylihuomenna", [("date", "2026-01-02", "ylihuomenna")]),
        ("1.1.", [("date", "2026-01-01", "1.1.")]),
        ("31.12.", [("date", "2025-12-31", "31.12.")]),
        ("30.12.", [("date", "2026-12-30", "30.12.")]),
        ("ensi maanantaina", [("date", "2026-01-05", "ensi maanantaina")]),
        ("keskiviikkona", [("date", "2026-01-07", "keskiviikkona")]),
        ("kolmen tunnin päästä", [("datetime", "2025-12-31T23:00", "kolmen tunnin päästä")]),
        ("viiden tunnin päästä", [("datetime", "2026-01-01T01:00", "viiden tunnin päästä")]),
        ("kuukauden päästä", [("date", "2026-01-31", "kuukauden päästä")]),
        ("in 2 months", [("date", "2026-02-28", "in 2 months")]),
    ],
)
def test_month_and_year_rollover(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert found(text, NEW_YEARS_EVE) == expected


@pytest.mark.parametrize(
    "text",
    [
        "32.13.",
        "31.2.",
        "0.5.",
        "klo 25",
        "klo 9.75",
        "25:00",
        "13 pm",
        "huomenta",  # good morning, not tomorrow
        "4 hakemusta",
        "131052-308T",
        "040 123 4567",
        "versio 1.2.3.4",
        "ma klo",
        "at one point",
    ],
)
def test_malformed_or_unrelated_text_gives_nothing(text: str) -> None:
    assert found(text) == []


def test_weekday_abbreviations_count_only_next_to_a_time_in_the_messages_language() -> None:
    assert found("ma klo 9", language="fi") == [("datetime", "2025-12-08T09:00", "ma klo 9")]
    assert found("pe 10:00 muistuta", language="fi") == [("datetime", "2025-12-12T10:00", "pe 10:00")]
    assert found("fre kl 9", language="sv") == [("datetime", "2025-12-12T09:00", "fre kl 9")]
    assert found("ma oon kotona", language="fi") == []
    assert found("move it to 14:00", language="en") == [("time", "14:00", "14:00")]
    assert found("ma klo 9") == [("time", "09:00", "klo 9")]


def test_a_plain_weekday_is_never_today() -> None:
    assert found("perjantaina") == [("date", "2025-12-12", "perjantaina")]
    assert found("on Friday") == [("date", "2025-12-12", "on Friday")]


def test_now_in_another_zone_is_read_in_helsinki() -> None:
    late_utc = datetime(2025, 12, 5, 23, 30, tzinfo=UTC)  # 01.30 on Saturday in Helsinki
    assert found("huomenna", late_utc) == [("date", "2025-12-07", "huomenna")]


def test_spans_index_the_original_text() -> None:
    text = "Voisitko muistuttaa 20.12. klo 9.00 lääkärintodistuksesta?"
    (entity,) = find_dates(text, FRIDAY)
    assert text[entity.start : entity.end] == "20.12. klo 9.00"
    assert entity.as_date() == date(2025, 12, 20)
    assert entity.as_time() == time(9, 0)


def test_two_separate_dates() -> None:
    assert found("ei huomenna vaan 10.12.") == [
        ("date", "2025-12-06", "huomenna"),
        ("date", "2025-12-10", "10.12."),
    ]
