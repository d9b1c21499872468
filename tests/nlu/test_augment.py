"""nlu.augment: seeded variants in the ways customers write."""

from __future__ import annotations

from flows.text import fold
from nlu.augment import variants


def test_variants_are_deterministic_and_distinct() -> None:
    text = "Minulla ei ole pankkitunnuksia, miten voin ilmoittautua työnhakijaksi?"
    first = variants(text, "fi", 3)
    assert first == variants(text, "fi", 3)
    assert len(first) == 3
    assert len({fold(v) for v in first} | {fold(text)}) == 4


def test_finnish_variants_use_spoken_forms_and_drop_diacritics() -> None:
    text = "Minulla ei ole pankkitunnuksia ja minun pitäisi ilmoittautua työnhakijaksi"
    produced = " ".join(variants(text, "fi", 6)).casefold()
    assert any(word in produced for word in ("mulla", "mun", "oo ", "pitäis", "ilmottautua"))
    assert "tyonhakija" in produced or "pankkitunnuksia" in produced


def test_negation_is_never_dropped() -> None:
    text = "minulla ei ole mitään tunnuksia enkä tiedä miten tunnistaudun"
    for variant in variants(text, "fi", 8):
        assert " ei " in f" {fold(variant)} "


def test_no_variant_of_a_word_too_short_to_change() -> None:
    assert variants("ok", "en", 3) == []
