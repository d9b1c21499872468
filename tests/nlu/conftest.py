"""A small training set in a temporary folder, and a model trained on it once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.model import NLUModel, train

MINI: dict[str, dict[str, list[str]]] = {
    "fi": {
        "greet": ["moi", "hei", "heippa", "terve", "hyvää päivää", "moikka moi", "päivää", "hei vaan", "moro"],
        "goodbye": ["näkemiin", "hei hei", "kiitos ja näkemiin", "nähdään", "moikka", "heippa sitten", "ei muuta"],
        "set_reminder": [
            "muistuta mua huomenna",
            "muistuta minua maanantaina",
            "laita muistutus",
            "voitko muistuttaa klo 9",
            "muistutus ensi viikolle",
            "muistuta hakemuksista perjantaina",
            "tee muistutus tapaamisesta",
            "muistuttaisitko mua",
        ],
        "register_jobseeker": [
            "miten ilmoittaudun työnhakijaksi",
            "haluan ilmoittautua työttömäksi",
            "ilmoittautuminen työnhakijaksi",
            "jäin työttömäksi mitä teen",
            "työnhaun aloitus",
            "mistä pääsee ilmoittautumaan",
            "työttömäksi työnhakijaksi ilmoittautuminen verkossa",
            "pitäisi rekisteröityä työnhakijaksi",
        ],
        "out_of_scope": [
            "mikä on sää huomenna",
            "kerro vitsi",
            "paljonko on kaksi plus kaksi",
            "kuka voitti jääkiekon mm-kisat",
            "resepti pullaan",
            "miten teen veroilmoituksen",
            "auton katsastus",
            "asdfgh",
        ],
    },
    "en": {
        "greet": ["hi", "hello", "hey there", "good morning", "hello there", "hiya", "good afternoon", "hey"],
        "goodbye": ["bye", "goodbye", "see you", "bye, that was all", "see you later", "take care", "good night"],
        "set_reminder": [
            "remind me tomorrow",
            "remind me on Monday about the plan",
            "set a reminder",
            "can you remind me at 9",
            "reminder for next week",
            "remind me about the applications",
            "create a reminder for the meeting",
            "please remind me",
        ],
        "register_jobseeker": [
            "how do I register as a jobseeker",
            "I want to register as unemployed",
            "registering as a job seeker",
            "I lost my job what do I do",
            "start my job search",
            "where do I sign up as unemployed",
            "register online as a jobseeker",
            "I need to register at the employment office",
        ],
        "out_of_scope": [
            "what is the weather tomorrow",
            "tell me a joke",
            "what is two plus two",
            "who won the hockey world championship",
            "recipe for pancakes",
            "how do I file my taxes",
            "car inspection",
            "qwerty",
        ],
    },
}


def write_mini(root: Path) -> Path:
    """Write ``MINI`` as Rasa files, one per language and intent, plus a lookup file."""
    for language, intents in MINI.items():
        folder = root / language
        folder.mkdir(parents=True, exist_ok=True)
        for intent, examples in intents.items():
            lines = "\n".join(f"    - {e}" for e in examples)
            (folder / f"{intent}.yml").write_text(
                f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n{lines}\n', encoding="utf-8"
            )
    (root / "fi" / "_lookups.yml").write_text(
        'version: "3.1"\nnlu:\n- lookup: weekday\n  examples: |\n    - maanantaina\n    - perjantaina\n'
        "- synonym: te_office\n  examples: |\n    - työkkäri\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="session")
def mini_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini(tmp_path_factory.mktemp("mini-nlu"))


@pytest.fixture(scope="session")
def mini_model(mini_data: Path) -> NLUModel:
    return train(mini_data)
