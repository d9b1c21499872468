"""nlu.pii: identity codes (checksum), phones, e-mails, and redaction for stored transcripts."""

from __future__ import annotations

import pytest

from nlu.pii import find_emails, find_hetus, find_phones, hetu_is_valid, redact


@pytest.mark.parametrize(
    "code",
    [
        "131052-308T",  # the example in the population register's documentation
        "010101A123N",
        "010594Y9032",  # 1900s, new sign (2023)
        "010594Y9021",
        "020594X903P",
        "020594X902N",
        "030594W903B",
        "030694W9024",
        "040594V9030",
        "040594V902Y",
        "050594U903M",
        "050594U902L",
        "010516B903X",  # 2000s, new signs
        "010516B902W",
        "020516C903K",
        "020516C902J",
        "030516D9037",
        "030516D9026",
        "010501E9032",
        "020502E902X",
        "020503F9037",
        "020504F902E",
        "010101+123N",
        "131052-308t",  # customers type lower case
    ],
)
def test_valid_codes(code: str) -> None:
    assert hetu_is_valid(code)


@pytest.mark.parametrize(
    "code",
    [
        "131052-308U",  # wrong check character
        "131052-309T",
        "311352-308T",  # month 13
        "290201-123X",  # 29.2.1901 does not exist
        "131052G308T",  # G is no century sign
        "131052-308",
        "1310521-308T",
        "",
    ],
)
def test_invalid_codes(code: str) -> None:
    assert not hetu_is_valid(code)


def test_hetu_entities_are_upper_case_and_checksum_valid() -> None:
    (entity,) = find_hetus("hetu 131052-308t ja väärä 131052-308U")
    assert (entity.type, entity.value, entity.text, entity.start, entity.end) == (
        "hetu",
        "131052-308T",
        "131052-308t",
        5,
        16,
    )


def test_phone_numbers_in_e164() -> None:
    phones = find_phones("soita 040 123 4567 tai +358 9 310 1234, ruotsiin +46 70 123 45 67")
    assert [(p.value, p.text) for p in phones] == [
        ("+358401234567", "040 123 4567"),
        ("+35893101234", "+358 9 310 1234"),
        ("+46701234567", "+46 70 123 45 67"),
    ]


@pytest.mark.parametrize("text", ["4 hakemusta", "5.12.2026", "vuonna 2025", "131052-308T", "klo 14.30"])
def test_no_phone_in_counts_dates_or_identity_codes(text: str) -> None:
    assert find_phones(text) == ()


def test_emails_are_lower_case() -> None:
    (email,) = find_emails("osoite: Maija.Meikalainen+te@Example.FI.")
    assert (email.value, email.text) == ("maija.meikalainen+te@example.fi", "Maija.Meikalainen+te@Example.FI")


def test_redact_replaces_all_three() -> None:
    text = "hetu 131052-308T, puh 040 123 4567, maija@example.fi kiitos"
    assert redact(text) == "hetu [HETU], puh [PHONE], [EMAIL] kiitos"


def test_redact_also_hides_a_mistyped_identity_code() -> None:
    assert redact("mun hetu on 131052-308U") == "mun hetu on [HETU]"


def test_redact_leaves_other_numbers_alone() -> None:
    text = "haettu 4 paikkaa 30.11. mennessä, klo 14.30, vuonna 2025"
    assert redact(text) == text


def test_redact_long_text_completely() -> None:
    text = "x " * 20_000 + "040 123 4567 " + "y " * 20_000 + "maija@example.fi"
    redacted = redact(text)
    assert "040 123 4567" not in redacted and "maija@example.fi" not in redacted
    assert redacted.count("[PHONE]") == 1 and redacted.endswith("[EMAIL]")
