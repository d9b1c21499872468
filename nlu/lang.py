"""Which of Finnish, Swedish and English a message is in, with the conversation's language as a hint.

A multinomial naive Bayes over character n-grams (1–4, inside word boundaries, diacritics kept:
"ä" and "å" are strong evidence) and whole words, trained on every language's NLU examples plus a
small list of function words per language, so that it knows "och", "the" and "että" even when the
examples are few. Each example is also learned without its diacritics, as customers often type.

The decision (``identify``) is deliberately sticky, because a wrong switch answers the customer in
a language they did not choose:

- no letters at all ("1", "👍", "?") → the hint, else None;
- with a hint, the language changes only when the message has at least ``MIN_WORDS_TO_SWITCH``
  words and another language is at least ``SWITCH_PROBABILITY`` likely;
- without a hint, one short word that is not clearly one language ("ok", "no") → None.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np

from flows.model import LANGUAGES

MIN_WORDS_TO_SWITCH: Final = 2
SWITCH_PROBABILITY: Final = 0.97
ONE_WORD_PROBABILITY: Final = 0.9
MAX_CHARS: Final = 300
"""Language is clear long before 300 characters; reading more only costs time."""
SHARPNESS: Final = 0.6
"""Naive Bayes treats overlapping n-grams as independent and is far too sure; log-likelihoods are
scaled by this before the softmax so that probabilities stay usable as thresholds."""
ALPHA: Final = 0.1
"""Additive smoothing of n-gram counts."""

_WORD: Final = re.compile(r"[^\W\d_]+", re.UNICODE)
_STRIP: Final = str.maketrans("äöåéü", "aoaeu")

FUNCTION_WORDS: Final = {
    "fi": (
        "ja on ei se että mutta kun jos tai mä sä mun sun minä sinä minun olen oon oot olet ole oo onko "
        "miten mitä mikä missä milloin miksi voiko voinko voisitko haluan haluun pitää pitäis pitäisi "
        "kiitos moi hei joo kyllä eli siis vielä myös nyt sitten mulla mulle minulla minulle teidän "
        "kanssa jotain mistä voin onks saanko tarvitsen tää tämä"
    ),
    "sv": (
        "och är jag du det att inte men när om eller min mitt mina din ditt hur vad vilken var varför "
        "kan kunde vill ska skulle har hade tack hej ja nej också nu sedan med för på av till från "
        "jag behöver hjälp mig dig någon något finns får kommer"
    ),
    "en": (
        "and is the a an it that but when if or my your how what which where why can could would "
        "want should have has thanks hello yes no also now then with for on of to from need help me "
        "you someone something there get will do does please i am"
    ),
}
"""A prior for the model: the words that carry the most language and the least topic."""


class LanguageIdentifier:
    """Character n-gram naive Bayes over fi/sv/en with a sticky decision rule."""

    def __init__(self, vocabulary: Mapping[str, int], log_probs: np.ndarray, unseen: np.ndarray) -> None:
        self._vocabulary = dict(vocabulary)
        self._log_probs = log_probs
        """(n_features, n_languages) log P(feature | language)."""
        self._unseen = unseen
        """(n_languages,) log-probability of a feature never seen in training."""

    @classmethod
    def train(cls, examples: Iterable[tuple[str, str]]) -> LanguageIdentifier:
        """Learn from (text, language) pairs; languages outside ``LANGUAGES`` are ignored."""
        counts: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES}
        for text, language in examples:
            if language in counts:
                counts[language].update(_features(text))
                counts[language].update(_features(text.translate(_STRIP)))
        for language, words in FUNCTION_WORDS.items():
            for word in words.split():
                for _ in range(3):
                    counts[language].update(_features(word))
        vocabulary = {f: i for i, f in enumerate(sorted(set().union(*counts.values())))}
        matrix = np.zeros((len(vocabulary), len(LANGUAGES)))
        for column, language in enumerate(LANGUAGES):
            for feature, count in counts[language].items():
                matrix[vocabulary[feature], column] = count
        totals = matrix.sum(axis=0) + ALPHA * (len(vocabulary) + 1)
        log_probs = np.log((matrix + ALPHA) / totals)
        unseen = np.log(ALPHA / totals)
        return cls(vocabulary, log_probs.astype(np.float32), unseen.astype(np.float32))

    def probabilities(self, text: str) -> dict[str, float]:
        """P(language | text) for each language; uniform when the text has no letters."""
        features = _features(text[:MAX_CHARS])
        if not features:
            return {lang: 1 / len(LANGUAGES) for lang in LANGUAGES}
        rows = [self._vocabulary.get(f) for f in features]
        known = [r for r in rows if r is not None]
        scores = self._log_probs[known].sum(axis=0) + self._unseen * (len(rows) - len(known))
        scores = scores * SHARPNESS / math.sqrt(len(rows))
        exp = np.exp(scores - scores.max())
        probs = exp / exp.sum()
        return {lang: float(p) for lang, p in zip(LANGUAGES, probs, strict=True)}

    def identify(self, text: str, hint: str | None = None) -> str | None:
        """The message's language; ``hint`` (the conversation's language) unless clearly another."""
        words = _WORD.findall(text[:MAX_CHARS])
        if hint not in LANGUAGES:
            hint = None
        if not words:
            return hint
        probs = self.probabilities(text)
        best = max(probs, key=lambda lang: probs[lang])
        if hint is not None:
            if best != hint and len(words) >= MIN_WORDS_TO_SWITCH and probs[best] >= SWITCH_PROBABILITY:
                return best
            return hint
        if len(words) == 1 and probs[best] < ONE_WORD_PROBABILITY:
            return None
        return best

    def state(self) -> dict[str, Any]:
        """Plain data for saving with the model."""
        return {
            "features": sorted(self._vocabulary, key=self._vocabulary.__getitem__),
            "log_probs": self._log_probs,
            "unseen": self._unseen,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> LanguageIdentifier:
        features: Sequence[str] = state["features"]
        return cls({f: i for i, f in enumerate(features)}, state["log_probs"], state["unseen"])


def _features(text: str) -> list[str]:
    """Character 1–4-grams of each word padded with spaces, plus the word itself."""
    features: list[str] = []
    for word in _WORD.findall(text.casefold()):
        padded = f" {word} "
        for n in range(1, 5):
            features.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
        features.append(f"w:{word}")
    return features
