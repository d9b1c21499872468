"""nlu.entities: all entities of a message without overlaps, and counts."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from nlu.entities import extract, find_counts

NOW = datetime(2025, 12, 5, 14, 0, tzinfo=ZoneInfo("Europe/Helsinki"))


def kinds(text: str, language: str | None = "fi") -> list[tuple[str, str]]:
    return [(e.type, e.value) for e in extract(text, NOW, language)]


def test_counts_in_digits_and_words() -> None:
    assert kinds("olen lähettänyt 4 hakemusta") == [("number", "4")]
    assert kinds("haettu neljä paikkaa") == [("number", "4")]
    assert kinds("jag har sökt fyra jobb", "sv") == [("number", "4")]
    assert kinds("I applied for three jobs", "en") == [("number", "3")]


def test_number_words_only_in_the_messages_language() -> None:
    # Swedish "en" (one) is Finnish "I don't".
    assert kinds("en tiedä", "fi") == []
    assert [e.value for e in find_counts("en ansökan", "sv")] == ["1"]
    assert find_counts("en tiedä", None) == ()


def test_personal_data_and_dates_win_over_counts() -> None:
    text = "hetu 131052-308T, puh 040 123 4567, haettu 3 paikkaa 30.11. mennessä"
    assert kinds(text) == [
        ("hetu", "131052-308T"),
        ("phone", "+358401234567"),
        ("number", "3"),
        ("date", "2026-11-30"),
    ]


def test_a_mistyped_identity_code_is_no_count() -> None:
    assert kinds("131052-308U") == []


def test_entities_are_ordered_and_do_not_overlap() -> None:
    entities = extract("huomenna klo 9 soita 0401234567 tai maija@example.fi, 2 kertaa", NOW, "fi")
    assert [e.type for e in entities] == ["datetime", "phone", "email", "number"]
    for left, right in pairwise(entities):
        assert left.end <= right.start


def test_only_the_start_of_a_huge_text_is_searched() -> None:
    text = "x " * 50_000 + "huomenna"
    assert extract(text, NOW, "fi") == ()
