"""nlu.finnish: spoken Finnish mapped to written forms."""

from __future__ import annotations

import pytest

from nlu.finnish import SPOKEN, standard_word


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("ma", "mina"),
        ("sa", "sina"),
        ("mun", "minun"),
        ("mulla", "minulla"),
        ("oon", "olen"),
        ("oo", "ole"),
        ("ootko", "oletko"),
        ("tarttis", "tarvitsisi"),
        ("ilmottautua", "ilmoittautua"),
        ("haluun", "haluan"),
        ("pitais", "pitaisi"),
    ],
)
def test_spoken_forms(spoken: str, written: str) -> None:
    assert standard_word(spoken) == written


@pytest.mark.parametrize("word", ["et", "mut", "maa", "saa", "hakemus", "tyonhakija"])
def test_ambiguous_and_written_words_stay(word: str) -> None:
    assert standard_word(word) == word


def test_the_table_is_written_to_spoken() -> None:
    assert "mä" in SPOKEN["minä"] and "oon" in SPOKEN["olen"]
