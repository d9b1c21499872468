"""Folding text for matching: the one place that decides when two spellings count as the same.

Customers type without ä/ö, in capitals, with trailing punctuation; command words, button labels
and the NLU's features all compare folded text, so "TAKAISIN!" and "takaisin" and "Tillbaka."
match their entries without each caller inventing its own rules.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_NON_WORD: Final = re.compile(r"[^\w]+", re.UNICODE)
_UNDERSCORE_OR_SPACE: Final = re.compile(r"[_\s]+")


def fold(text: str) -> str:
    """Case-fold, strip diacritics (ä→a, ö→o, å→a, é→e), turn punctuation into spaces, collapse spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _UNDERSCORE_OR_SPACE.sub(" ", _NON_WORD.sub(" ", stripped)).strip()
