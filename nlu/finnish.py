"""Spoken Finnish (puhekieli) and its written forms, for features and for training-time augmentation.

Customers write "mä oon", "mun pitäis", "tarttis", "ilmottautua". ``standard_word`` maps such a
word, already folded (no ä/ö, lower case), to its written form so that word features of "mulla ei
oo" and "minulla ei ole" meet; ``SPOKEN`` is the reverse table that ``nlu.augment`` uses to write
training examples the way customers do.

Only unambiguous forms are listed: "mut" (minut / mutta) and "et" (että / you don't) are left alone.
"""

from __future__ import annotations

from typing import Final

from flows.text import fold

SPOKEN: Final = {
    # written (with diacritics) → spoken variants
    "minä": ("mä", "mie", "mää"),
    "sinä": ("sä", "sie", "sää"),
    "minun": ("mun",),
    "sinun": ("sun",),
    "minulla": ("mulla", "mul"),
    "sinulla": ("sulla", "sul"),
    "minulle": ("mulle", "mul"),
    "sinulle": ("sulle",),
    "minua": ("mua",),
    "sinua": ("sua",),
    "minusta": ("musta",),
    "meillä": ("meil",),
    "teillä": ("teil",),
    "olen": ("oon", "olen"),
    "olet": ("oot",),
    "ole": ("oo",),
    "oletko": ("ootko", "oot sä"),
    "olisi": ("ois", "olis"),
    "olisiko": ("oisko", "oliskohan"),
    "onko": ("onks", "onko"),
    "että": ("et", "ett"),
    "tämä": ("tää",),
    "tuo": ("toi",),
    "nämä": ("nää",),
    "mitä": ("mitä", "mita"),
    "haluan": ("haluun", "haluisin"),
    "haluaisin": ("haluisin", "haluaisin"),
    "pitäisi": ("pitäis", "pitäs", "pitäisi"),
    "tarvitsisi": ("tarttis", "tarvis"),
    "tarvitsen": ("tartten", "tarviin"),
    "tarvitsee": ("tarttee", "tarvii"),
    "voisi": ("vois",),
    "voisiko": ("voisko", "vois"),
    "voiko": ("voiks", "voiko"),
    "saisiko": ("saisko", "saako"),
    "saanko": ("saanks", "saako"),
    "kanssa": ("kans",),
    "ilmoittautua": ("ilmottautua", "ilmottautuu"),
    "ilmoittaa": ("ilmottaa",),
    "ilmoitan": ("ilmotan",),
    "ilmoittautuminen": ("ilmottautuminen",),
    "ilmoitus": ("ilmotus",),
    "työtön": ("työtön", "työttömäks"),
    "työttömäksi": ("työttömäks",),
    "työnhakijaksi": ("työnhakijaks",),
    "miten": ("miten", "mite"),
    "mikä": ("mikä", "mikäs"),
    "missä": ("missä", "mis"),
    "mistä": ("mistä", "mist"),
    "kuinka": ("kui", "kuinka"),
    "jotain": ("jotai",),
    "vähän": ("vähä",),
    "sitten": ("sit",),
    "niin": ("nii",),
    "kyllä": ("kyl", "joo"),
}
"""Written form → spoken variants (first is the most common)."""

_EXTRA_STANDARD: Final = {
    "ma": "mina",
    "sa": "sina",
    "mie": "mina",
    "sie": "sina",
    "mul": "minulla",
    "sul": "sinulla",
    "oon": "olen",
    "oot": "olet",
    "oo": "ole",
}

_STANDARD: Final = {
    **{fold(spoken): fold(written) for written, variants in SPOKEN.items() for spoken in variants},
    **_EXTRA_STANDARD,
}
for _ambiguous in ("et", "ett", "mut", "joo", "saako", "maa", "saa"):
    # Both readings are common: "et" is also "you don't", folded "mää" is "maa" (land), "sää" is "saa".
    _STANDARD.pop(_ambiguous, None)


def standard_word(word: str) -> str:
    """The written form of a folded spoken word, or the word itself ("oon" → "olen")."""
    return _STANDARD.get(word, word)
