"""nlu.features: one featurizer for training rows and single messages."""

from __future__ import annotations

import numpy as np

from nlu.data import read_from_string
from nlu.features import MAX_CHARS, Corpus, Featurizer, Vocabulary, analyze

LOOKUPS = read_from_string(
    'version: "3.1"\nnlu:\n- synonym: te_office\n  examples: |\n    - työkkäri\n    - TE-toimisto\n'
    "- lookup: weekday\n  examples: |\n    - maanantaina\n- regex: date\n  examples: |\n    - \\d+\\.\\d+\\.\n",
    "lookups.yml",
)


def test_word_features_map_spoken_finnish_synonyms_lookups_and_regexes() -> None:
    vocabulary = Vocabulary.from_data(LOOKUPS)
    chars, words = analyze("Mä oon käyny työkkärissä, TE-toimisto maanantaina 5.12.", "fi", vocabulary)

    assert {"w:mina", "w:olen", "b:mina_olen", "p:tyokk", "s:te_office", "k:weekday", "r:date"} <= set(words)
    assert " ma" in chars and "mina" not in chars  # character n-grams see what was written, folded


def test_spoken_forms_are_only_mapped_in_finnish() -> None:
    vocabulary = Vocabulary.from_data(LOOKUPS)
    _, words = analyze("sa oon", "en", vocabulary)
    assert "w:sa" in words and "w:sina" not in words


def test_a_single_vector_equals_its_training_row() -> None:
    vocabulary = Vocabulary.from_data(LOOKUPS)
    texts = ["muistuta mua huomenna", "muistutus maanantaina", "moi moi", "mä oon työkkärissä"]
    analysed = [analyze(t, "fi", vocabulary) for t in texts]
    featurizer = Featurizer.fit(analysed, vocabulary)
    matrix = featurizer.transform(analysed).toarray()

    idx, vals = featurizer.vector(texts[0], "fi")
    row = np.zeros(featurizer.size, dtype=np.float32)
    row[idx] = vals
    np.testing.assert_allclose(row, matrix[0], rtol=1e-6)


def test_each_group_is_normalised_to_its_weight() -> None:
    vocabulary = Vocabulary.from_data(LOOKUPS)
    analysed = [analyze(t, "fi", vocabulary) for t in ["muistuta mua huomenna", "muistuta mua"]]
    featurizer = Featurizer.fit(analysed, vocabulary, group_weights=(1.0, 0.5))
    idx, vals = featurizer.vector("muistuta mua", "fi")
    groups = featurizer.groups[idx]
    assert abs(np.linalg.norm(vals[groups == 0]) - 1.0) < 1e-6
    assert abs(np.linalg.norm(vals[groups == 1]) - 0.5) < 1e-6


def test_unknown_text_gives_an_empty_vector() -> None:
    vocabulary = Vocabulary.from_data(LOOKUPS)
    featurizer = Featurizer.fit([analyze("moi", "fi", vocabulary)], vocabulary)
    idx, vals = featurizer.vector("😀", "fi")
    assert len(idx) == 0 and len(vals) == 0


def test_only_the_first_characters_are_read() -> None:
    vocabulary = Vocabulary.from_data(LOOKUPS)
    long_text = "moi " * (MAX_CHARS // 4) + "muistutus"
    assert analyze(long_text, "fi", vocabulary) == analyze(long_text[:MAX_CHARS], "fi", vocabulary)


def test_state_round_trip() -> None:
    vocabulary = Vocabulary.from_data(LOOKUPS)
    analysed = [analyze(t, "fi", vocabulary) for t in ["muistuta mua huomenna", "moi moi"]]
    featurizer = Featurizer.fit(analysed, vocabulary)
    copy = Featurizer.from_state(featurizer.state())
    for a, b in zip(copy.vector("muistuta työkkäri", "fi"), featurizer.vector("muistuta työkkäri", "fi"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_emoji_are_features_though_folding_drops_them() -> None:
    chars, words = analyze("👍", "fi", Vocabulary.from_data(LOOKUPS))
    assert chars == [] and words == ["m:👍"]


def test_fitting_members_of_a_corpus_equals_fitting_those_texts_alone() -> None:
    vocabulary = Vocabulary.from_data(LOOKUPS)
    texts = ["muistuta mua huomenna", "muistutus maanantaina", "moi moi", "mä oon työkkärissä", "moi", "muistuta"]
    analysed = [analyze(t, "fi", vocabulary) for t in texts]
    corpus = Corpus(analysed)
    members = [0, 2, 3, 5]
    alone = Featurizer.fit([analysed[i] for i in members], vocabulary)
    shared = Featurizer.fit(corpus, vocabulary, members=members)

    assert shared.index == alone.index
    np.testing.assert_array_equal(shared.idf, alone.idf)
    expected = alone.transform([analysed[i] for i in members]).toarray()
    np.testing.assert_allclose(shared.transform(corpus, members).toarray(), expected, rtol=1e-6)
    # Texts outside the members are transformed with the members' features only.
    idx, vals = shared.vector(texts[1], "fi")
    row = np.zeros(shared.size, dtype=np.float32)
    row[idx] = vals
    np.testing.assert_allclose(shared.transform(corpus, [1]).toarray()[0], row, rtol=1e-6)


def test_a_joined_corpus_gives_the_same_featurizer_and_matrix_as_one_built_in_one_pass() -> None:
    vocabulary = Vocabulary.from_data(LOOKUPS)
    texts = ["muistuta mua huomenna", "moi moi", "muistutus maanantaina", "mä oon työkkärissä", "moi", "muistuta"]
    analysed = [analyze(t, "fi", vocabulary) for t in texts]
    whole = Corpus(analysed)
    joined = Corpus.joined(Corpus(analysed[:2]), Corpus(analysed[2:]))
    members = [1, 2, 3, 5]

    a = Featurizer.fit(whole, vocabulary, members=members)
    b = Featurizer.fit(joined, vocabulary, members=members)
    assert a.index == b.index
    np.testing.assert_array_equal(a.idf, b.idf)
    np.testing.assert_array_equal(a.transform(whole).toarray(), b.transform(joined).toarray())
