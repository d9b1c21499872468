"""nlu.lang: language identification that keeps the conversation's language unless clearly switched."""

from __future__ import annotations

import pytest

from nlu.lang import LanguageIdentifier

TRAINING = [
    ("mulla ei oo pankkitunnuksia", "fi"),
    ("miten ilmoittaudun työnhakijaksi", "fi"),
    ("haluan puhua ihmisen kanssa", "fi"),
    ("muistuta minua huomenna tapaamisesta", "fi"),
    ("kiitos paljon avusta", "fi"),
    ("jag har inga bankkoder", "sv"),
    ("hur anmäler jag mig som arbetssökande", "sv"),
    ("jag vill prata med en människa", "sv"),
    ("påminn mig i morgon om mötet", "sv"),
    ("tack så mycket för hjälpen", "sv"),
    ("I have no bank codes", "en"),
    ("how do I register as a jobseeker", "en"),
    ("I want to talk to a human", "en"),
    ("remind me tomorrow about the meeting", "en"),
    ("thank you very much for the help", "en"),
]


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier.train(TRAINING)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("voisitko kertoa miten tämä toimii", "fi"),
        ("mä en tiiä mitä mun pitäis tehdä", "fi"),
        ("en ole saanut rahoja vielä", "fi"),
        ("mista loydan tyonhakusuunnitelman", "fi"),  # no ä/ö
        ("kan du hjälpa mig med min ansökan", "sv"),
        ("jag vet inte vad jag ska göra", "sv"),
        ("var hittar jag min plan", "sv"),
        ("could you help me with my application", "en"),
        ("I do not know what to do now", "en"),
        ("where can I find my plan", "en"),
    ],
)
def test_sentences_without_a_hint(identifier: LanguageIdentifier, text: str, language: str) -> None:
    assert identifier.identify(text) == language


@pytest.mark.parametrize("text", ["1", "👍", "?!", "  ", "123 456", "🙂🙂"])
def test_no_letters_gives_the_hint_or_none(identifier: LanguageIdentifier, text: str) -> None:
    assert identifier.identify(text) is None
    assert identifier.identify(text, "sv") == "sv"


@pytest.mark.parametrize("text", ["ok", "no", "ja", "hmm"])
def test_one_ambiguous_word_keeps_the_hint(identifier: LanguageIdentifier, text: str) -> None:
    for hint in ("fi", "sv", "en"):
        assert identifier.identify(text, hint) == hint


def test_one_word_never_switches(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("tack", "fi") == "fi"
    assert identifier.identify("thanks", "sv") == "sv"


def test_a_clear_sentence_in_another_language_switches(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("jag vill prata svenska med dig", "fi") == "sv"
    assert identifier.identify("I would like to continue in English please", "fi") == "en"
    assert identifier.identify("haluan jatkaa suomeksi kiitos", "en") == "fi"


def test_an_unknown_hint_is_ignored(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("1", "de") is None


def test_probabilities_sum_to_one(identifier: LanguageIdentifier) -> None:
    probabilities = identifier.probabilities("hur anmäler jag mig")
    assert set(probabilities) == {"fi", "sv", "en"}
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert max(probabilities, key=probabilities.__getitem__) == "sv"


def test_state_round_trip(identifier: LanguageIdentifier) -> None:
    copy = LanguageIdentifier.from_state(identifier.state())
    assert copy.probabilities("kan du hjälpa mig") == identifier.probabilities("kan du hjälpa mig")
