"""Text → sparse feature vector for the intent classifier, identical at training and parse time.

Two groups of features, each TF-IDF weighted (sublinear counts, smoothed idf) and L2-normalised on
its own, then scaled by its group weight:

- **char**: character 2–5-grams inside word boundaries of the folded text (``flows.text.fold``: no
  case, no ä/ö/å, no punctuation), which survive typos, inflection and missing diacritics;
- **word**: folded words with spoken Finnish mapped to written forms ("oon" → "olen"), word bigrams,
  five-letter word prefixes (Finnish stems: "hakemusta", "hakemuksen" → "hakem"), the data's
  synonyms, lookup tables and regexes (as Rasa's RegexFeaturizer), and emoji, which folding drops.

No dictionary lemmas: simplemma's Finnish dictionary takes ~400 MB and seconds to load, and on our
held-out and dev sets its lemmas added under one point over character n-grams and prefixes.

The same ``Featurizer`` produces the training matrix (``transform``) and a single message's
``(indices, values)`` (``vector``), so train and parse cannot drift apart. Only the first
``MAX_CHARS`` characters are read: a 100 KB paste costs no more than a long message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from flows.text import fold
from nlu.data import TrainingData
from nlu.finnish import standard_word

_EMOJI: Final = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2b55]")

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

MAX_CHARS: Final = 1000
CHAR_NGRAMS: Final = (2, 5)
PREFIX_LENGTH: Final = 5
STEM_MIN: Final = 5
MIN_STEMMED: Final = 6
"""Lookup and synonym words this long also match by stem: all but the last three letters, at least five."""
MIN_DF_CHAR: Final = 2
MIN_DF_WORD: Final = 2
"""Features seen in only one training row (an example or a variant of it) are mostly noise, and
there are many: keeping them would double the model's size and memory."""
CHAR: Final = 0
WORD: Final = 1
FAMILIAR_SHARE: Final = 0.25
"""A message with no known word feature and under this share of known 4–5-letter n-grams is
unfamiliar ("pqpqpq", a line of another alphabet): its score rests on 2–3-letter n-grams that
every language shares, and whatever intent wins does so by chance."""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """What the data adds to word features: synonyms, lookup tables and regexes, all folded."""

    phrases: Mapping[str, tuple[str, ...]]
    """Folded word or phrase → features it triggers ("s:te_office", "k:weekday")."""
    regexes: tuple[tuple[str, re.Pattern[str]], ...]
    longest: int
    """Words in the longest phrase."""
    stems: Mapping[str, tuple[str, ...]]
    """Stem of a one-word entry → its features, so that Finnish case endings still match:
    "muistutus" also matches "muistutuksen" through "muistu"."""

    @classmethod
    def from_data(cls, data: TrainingData) -> Vocabulary:
        phrases: dict[str, list[str]] = {}
        for synonym in data.synonyms:
            for text in (*synonym.variants, synonym.value):
                phrases.setdefault(fold(text), []).append(f"s:{synonym.value.casefold()}")
        for lookup in data.lookups:
            for text in lookup.elements:
                phrases.setdefault(fold(text), []).append(f"k:{lookup.name}")
        regexes = tuple(
            (regex.name, re.compile(pattern, re.IGNORECASE)) for regex in data.regexes for pattern in regex.patterns
        )
        return cls.build({k: tuple(dict.fromkeys(v)) for k, v in phrases.items() if k}, regexes)

    @classmethod
    def build(
        cls, phrases: Mapping[str, tuple[str, ...]], regexes: tuple[tuple[str, re.Pattern[str]], ...]
    ) -> Vocabulary:
        stems: dict[str, list[str]] = {}
        for phrase, features in phrases.items():
            if " " not in phrase and len(phrase) >= MIN_STEMMED:
                stems.setdefault(_stem(phrase), []).extend(features)
        return cls(
            phrases=phrases,
            regexes=regexes,
            longest=max((len(k.split()) for k in phrases), default=0),
            stems={k: tuple(dict.fromkeys(v)) for k, v in stems.items()},
        )

    def state(self) -> dict[str, Any]:
        return {
            "phrases": {k: list(v) for k, v in self.phrases.items()},
            "regexes": [(name, pattern.pattern) for name, pattern in self.regexes],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Vocabulary:
        phrases = {k: tuple(v) for k, v in state["phrases"].items()}
        regexes = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in state["regexes"])
        return cls.build(phrases, regexes)

    def matches(self, tokens: Sequence[str]) -> list[str]:
        """Features of the listed words and phrases in ``tokens``, each at most once per position."""
        found: list[str] = []
        for n in range(1, self.longest + 1):
            for i in range(len(tokens) - n + 1):
                features = self.phrases.get(" ".join(tokens[i : i + n]))
                if features:
                    found.extend(features)
        if self.stems:
            for token in tokens:
                if len(token) < STEM_MIN:
                    continue
                seen: set[str] = set(self.phrases.get(token, ()))
                for end in range(STEM_MIN, len(token) + 1):
                    for feature in self.stems.get(token[:end], ()):
                        if feature not in seen:
                            seen.add(feature)
                            found.append(feature)
        return found


def _stem(word: str) -> str:
    return word[: max(STEM_MIN, len(word) - 3)]


def analyze(
    text: str,
    language: str | None,
    vocabulary: Vocabulary,
) -> tuple[list[str], list[str]]:
    """The raw (char, word) features of one message, before weighting."""
    text = text[:MAX_CHARS]
    folded = fold(text)
    tokens = folded.split()
    chars: list[str] = []
    low, high = CHAR_NGRAMS
    for token in tokens:
        padded = f" {token} "
        size = len(padded)
        for n in range(low, min(high, size) + 1):
            chars += [padded[i : i + n] for i in range(size - n + 1)]
    finnish = language in (None, "fi")
    words = [standard_word(t) for t in tokens] if finnish else tokens
    features = [f"w:{w}" for w in words]
    features.extend(f"b:{a}_{b}" for a, b in pairwise(words))
    features.extend(f"p:{w[:PREFIX_LENGTH]}" for w in words if len(w) > PREFIX_LENGTH)
    features.extend(vocabulary.matches(tokens))
    # Folding drops symbols, but 👍 alone is a yes and 👎 a no.
    features.extend(f"m:{symbol}" for symbol in _EMOJI.findall(text))
    features.extend(f"r:{name}" for name, pattern in vocabulary.regexes if pattern.search(text))
    return chars, features


Analysed = tuple[list[str], list[str]]
"""``analyze``'s (char, word) features of one text."""


class Corpus:
    """Analysed texts encoded once as ids into one list of features.

    Training fits and transforms several overlapping subsets (a dev split, twins, the final fit):
    with the texts encoded once, each of those is numpy work instead of a Python loop over every
    feature of every text.
    """

    def __init__(self, analysed: Sequence[Analysed]) -> None:
        features = list(dict.fromkeys(f for chars, words in analysed for f in (*chars, *words)))
        ids = {f: i for i, f in enumerate(features)}
        rows = [
            np.array([ids[f] for f in chars] + [ids[f] for f in words], dtype=np.int64) for chars, words in analysed
        ]
        self._set(features, rows, [np.unique(row) for row in rows])

    def _set(self, features: list[str], ids: list[np.ndarray], unique: list[np.ndarray]) -> None:
        self.features = features
        self.ids = ids
        self.groups = np.array([WORD if ":" in f else CHAR for f in features], dtype=np.int8)
        order = sorted(range(len(features)), key=features.__getitem__)
        self.ranks = np.empty(len(order), dtype=np.int64)
        self.ranks[order] = np.arange(len(order))
        self._unique = unique
        """Each text's distinct feature ids, for document frequencies."""

    @classmethod
    def joined(cls, first: Corpus, second: Corpus) -> Corpus:
        """``first``'s texts, then ``second``'s, as one corpus: training analyses two halves in two processes.

        Featurizers index features by their text, not by their place here, so a joined corpus
        gives the same matrices as one built in a single pass.
        """
        index = {f: i for i, f in enumerate(first.features)}
        features = list(first.features)
        lookup = np.empty(len(second.features), dtype=np.int64)
        for j, feature in enumerate(second.features):
            i = index.setdefault(feature, len(features))
            if i == len(features):
                features.append(feature)
            lookup[j] = i
        corpus = cls.__new__(cls)
        corpus._set(
            features,
            [*first.ids, *(lookup[row] for row in second.ids)],
            [*first._unique, *(lookup[row] for row in second._unique)],
        )
        return corpus

    def __len__(self) -> int:
        return len(self.ids)

    def document_frequency(self, members: np.ndarray) -> np.ndarray:
        """For every feature, the number of ``members`` that hold it."""
        if not len(members):
            return np.zeros(len(self.features), dtype=np.int64)
        present = np.concatenate([self._unique[i] for i in members.tolist()])
        return np.bincount(present, minlength=len(self.features))


class Featurizer:
    """TF-IDF over ``analyze``'s features with a fixed vocabulary learnt by ``fit``."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        index: Mapping[str, int],
        idf: np.ndarray,
        groups: np.ndarray,
        group_weights: Sequence[float],
    ) -> None:
        self.vocabulary = vocabulary
        self.index = dict(index)
        self.idf = idf
        self.groups = groups
        self.group_weights = tuple(group_weights)

    @property
    def size(self) -> int:
        return len(self.index)

    @classmethod
    def fit(
        cls,
        analysed: Sequence[Analysed] | Corpus,
        vocabulary: Vocabulary,
        group_weights: Sequence[float] = (1.0, 1.0),
        members: Sequence[int] | None = None,
    ) -> Featurizer:
        """Learn the feature index and idf from already ``analyze``d documents (``members`` of a corpus)."""
        corpus = analysed if isinstance(analysed, Corpus) else Corpus(analysed)
        chosen = np.arange(len(corpus)) if members is None else np.asarray(members, dtype=np.int64)
        df = corpus.document_frequency(chosen)
        candidates = np.flatnonzero(df >= np.where(corpus.groups == WORD, MIN_DF_WORD, MIN_DF_CHAR))
        # Sorted by the features' text, so that the index does not depend on the corpus's order.
        kept = candidates[np.argsort(corpus.ranks[candidates], kind="stable")]
        index = {corpus.features[i]: position for position, i in enumerate(kept.tolist())}
        n = len(chosen)
        idf = (np.log((1 + n) / (1 + df[kept].astype(np.float64))) + 1).astype(np.float32)
        return cls(vocabulary, index, idf, corpus.groups[kept].copy(), group_weights)

    def transform(self, analysed: Sequence[Analysed] | Corpus, members: Sequence[int] | None = None) -> csr_matrix:
        """The training matrix, all rows at once: the same values that ``vector`` gives one message.

        scipy is imported only here, as parsing never needs it.
        """
        from scipy.sparse import coo_matrix

        corpus = analysed if isinstance(analysed, Corpus) else Corpus(analysed)
        chosen = np.arange(len(corpus)) if members is None else np.asarray(members, dtype=np.int64)
        local = np.fromiter(
            (self.index.get(f, -1) for f in corpus.features), dtype=np.int64, count=len(corpus.features)
        )
        lengths = np.array([len(corpus.ids[i]) for i in chosen.tolist()], dtype=np.int64)
        ids = np.concatenate([corpus.ids[i] for i in chosen.tolist()]) if len(chosen) else np.zeros(0, np.int64)
        columns = local[ids]
        rows = np.repeat(np.arange(len(chosen)), lengths)[columns >= 0]
        columns = columns[columns >= 0]
        shape = (len(chosen), self.size)
        # Repeated features add up to their counts, as np.unique's counts do in _weigh.
        matrix = coo_matrix((np.ones(len(columns), np.float32), (rows, columns)), shape=shape).tocsr()
        matrix.sum_duplicates()
        row_of = np.repeat(np.arange(shape[0]), np.diff(matrix.indptr))
        matrix.data = self._weights(row_of, matrix.indices, matrix.data, shape[0])
        return matrix

    def vector(self, text: str, language: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(indices, values) of one message's feature vector."""
        chars, words = analyze(text, language, self.vocabulary)
        return self._weigh(chars, words)

    def read(self, text: str, language: str | None) -> tuple[np.ndarray, np.ndarray, bool]:
        """``vector``, and whether the message is familiar enough to classify (``FAMILIAR_SHARE``)."""
        chars, words = analyze(text, language, self.vocabulary)
        idx, vals = self._weigh(chars, words)
        return idx, vals, self._familiar(chars, words)

    def _familiar(self, chars: list[str], words: list[str]) -> bool:
        index = self.index
        if any(w in index for w in words):
            return True
        longer = [c for c in chars if len(c) >= 4]
        return bool(longer) and sum(c in index for c in longer) >= FAMILIAR_SHARE * len(longer)

    def _weigh(self, chars: list[str], words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        get = self.index.get
        found = [i for i in map(get, chars + words) if i is not None]
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        idx, tf = np.unique(np.array(found, dtype=np.int64), return_counts=True)
        return idx, self._weights(np.zeros(len(idx), dtype=np.int64), idx, tf.astype(np.float32), 1)

    def _weights(self, rows: np.ndarray, columns: np.ndarray, counts: np.ndarray, n_rows: int) -> np.ndarray:
        """TF-IDF of each (row, feature, count), each group L2-normalised per row to its weight.

        The one formula behind ``transform`` (many rows) and ``vector`` (one message).
        """
        values = ((1.0 + np.log(counts)) * self.idf[columns]).astype(np.float32)
        groups = self.groups[columns]
        for group, weight in enumerate(self.group_weights):
            mask = groups == group
            squares = np.bincount(rows[mask], weights=np.square(values[mask], dtype=np.float64), minlength=n_rows)
            norms = np.sqrt(squares)
            scale = np.divide(weight, norms, out=np.zeros_like(norms), where=norms > 0)
            values[mask] *= scale[rows[mask]].astype(np.float32)
        return values

    def state(self) -> dict[str, Any]:
        return {
            "vocabulary": self.vocabulary.state(),
            "features": sorted(self.index, key=self.index.__getitem__),
            "idf": self.idf,
            "group_weights": list(self.group_weights),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Featurizer:
        features: list[str] = state["features"]
        groups = np.array([WORD if ":" in f else CHAR for f in features], dtype=np.int8)
        return cls(
            Vocabulary.from_state(state["vocabulary"]),
            {f: i for i, f in enumerate(features)},
            state["idf"],
            groups,
            state["group_weights"],
        )
