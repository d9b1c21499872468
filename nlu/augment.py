"""Training-time augmentation: more examples written the way customers write.

Each variant applies, at random, some of: spoken-Finnish forms ("minulla ei ole" → "mulla ei oo",
"pitäisi" → "pitäis", "ilmoittautua" → "ilmottautua"), dropped diacritics ("työnhakija" →
"tyonhakija"), typos (a dropped, doubled, swapped or neighbouring-key letter) and a dropped word in a
long message. The randomness is seeded by the example's text, so the same data always trains the
same model, whatever ``PYTHONHASHSEED`` or the order of files.
"""

from __future__ import annotations

import random
import re
from typing import Final

from flows.text import fold
from nlu.finnish import SPOKEN

SEED: Final = "opastin-augment-1"
TYPO_RATE: Final = 0.12
"""Chance that a word of four or more letters gets one typo."""
SPOKEN_RATE: Final = 0.7
"""Chance that a written Finnish word with a spoken form is replaced by it."""

_WORD: Final = re.compile(r"\w+", re.UNICODE)
_STRIP: Final = str.maketrans("äöåÄÖÅé", "aoaAOAe")
_SPOKEN_LOWER: Final = {written.casefold(): variants for written, variants in SPOKEN.items()}
_SPOKEN_SUFFIXES: Final = (
    # Conditional "-isi" loses its last vowel; "oitt" loses its i: pitäisi → pitäis, ilmoittaa → ilmottaa.
    (re.compile(r"(?<=\w\w)isi$"), "is"),
    (re.compile(r"(?<=\w)oitt(?=\w)"), "ott"),
    (re.compile(r"(?<=\w\w)aisin$"), "isin"),
)
_KEEP: Final = frozenset({"inte", "ilman", "never", "ingen", "inga", "inget", "without"})
_KEYBOARD_ROWS: Final = ("qwertyuiopå", "asdfghjklöä", "zxcvbnm")


def variants(text: str, language: str | None, count: int) -> list[str]:
    """Up to ``count`` distinct variants of ``text``, none equal to it; deterministic."""
    rng = random.Random(f"{SEED}:{language}:{text}")
    seen = {fold(text)}
    found: list[str] = []
    for _ in range(count * 3):
        variant = _variant(text, language, rng)
        # Case and punctuation differences are folded away by the features: they teach nothing.
        if fold(variant) not in seen:
            seen.add(fold(variant))
            found.append(variant)
        if len(found) == count:
            break
    return found


def _variant(text: str, language: str | None, rng: random.Random) -> str:
    words = _WORD.findall(text)
    if len(words) >= 5 and rng.random() < 0.3:
        text = _drop_word(text, rng)
    if language == "fi" and rng.random() < 0.8:
        text = _WORD.sub(lambda m: _spoken(m.group(0), rng), text)
    if rng.random() < 0.5:
        text = text.translate(_STRIP)
    text = _WORD.sub(lambda m: _typo(m.group(0), rng), text)
    if rng.random() < 0.5:
        text = text.lower()
    return text


def _spoken(word: str, rng: random.Random) -> str:
    spoken = _SPOKEN_LOWER.get(word.casefold())
    if spoken is not None:
        return rng.choice(spoken) if rng.random() < SPOKEN_RATE else word
    for pattern, replacement in _SPOKEN_SUFFIXES:
        if rng.random() < SPOKEN_RATE / 2:
            word = pattern.sub(replacement, word)
    return word


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or word.isdigit() or rng.random() >= TYPO_RATE:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + _neighbour(word[i], rng) + word[i + 1 :]


def _neighbour(char: str, rng: random.Random) -> str:
    lower = char.lower()
    for row in _KEYBOARD_ROWS:
        at = row.find(lower)
        if at >= 0:
            choices = [row[j] for j in (at - 1, at + 1) if 0 <= j < len(row)]
            return rng.choice(choices)
    return char


def _drop_word(text: str, rng: random.Random) -> str:
    """Leave out one longer word; short ones ("ei", "not", "en") often carry the meaning."""
    matches = [m for m in list(_WORD.finditer(text))[1:] if len(m.group(0)) >= 4 and m.group(0).lower() not in _KEEP]
    if not matches:
        return text
    victim = rng.choice(matches)
    return (text[: victim.start()] + text[victim.end() :]).replace("  ", " ").strip()
