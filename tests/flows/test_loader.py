"""Loading content: each broken file in tests/data/bad_content/ names its file:line and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.content import AskStep, ChoiceStep
from flows.errors import ContentError
from flows.loader import load_content, read_from_string
from tests.flows.minicontent import write_content

BAD = sorted(Path(__file__).parents[1].joinpath("data", "bad_content").glob("*.yml"))
BAD_COMMANDS = sorted(Path(__file__).parents[1].joinpath("data", "bad_commands").glob("*.yml"))
INTENTS = {"register_jobseeker", "startup_grant", "join_video_meeting", "greet", "out_of_scope"}


@pytest.mark.parametrize("case", BAD, ids=[p.stem for p in BAD])
def test_bad_content_names_file_line_and_problem(case: Path, tmp_path: Path) -> None:
    text = case.read_text(encoding="utf-8")
    expected = text.splitlines()[0].removeprefix("# expect: ")
    root = write_content(tmp_path / "content", flows=text)
    (root / "menu.yml").write_text("menu: [demo]\n")
    with pytest.raises(ContentError) as caught:
        load_content(root, known_intents=INTENTS)
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith("content/flows/" + expected) for p in problems), problems


@pytest.mark.parametrize("case", BAD_COMMANDS, ids=[p.stem for p in BAD_COMMANDS])
def test_bad_commands_name_file_line_and_problem(case: Path, tmp_path: Path) -> None:
    """Each file of tests/data/bad_commands/ is a broken commands.yml (mostly its telegram_menu:)."""
    text = case.read_text(encoding="utf-8")
    expected = text.splitlines()[0].removeprefix("# expect: ")
    root = write_content(tmp_path / "content")
    (root / "commands.yml").write_text(text, encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(root, known_intents=INTENTS)
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith("content/" + expected) for p in problems), problems


def test_telegram_menu_is_per_language_in_order_and_optional(tmp_path: Path) -> None:
    root = write_content(tmp_path / "content")
    assert load_content(root).telegram_menu == {}, "without telegram_menu: the bot leaves Telegram's menu alone"

    (root / "commands.yml").write_text(
        "telegram_menu:\n"
        "  stop: {fi: '  Lopeta ', sv: Sluta, en: Stop}\n"
        "  forget: {fi: Unohda minut, sv: Glöm mig, en: Forget me}\n",
        encoding="utf-8",
    )
    menu = load_content(root).telegram_menu
    assert menu == {
        "fi": (("stop", "Lopeta"), ("forget", "Unohda minut")),
        "sv": (("stop", "Sluta"), ("forget", "Glöm mig")),
        "en": (("stop", "Stop"), ("forget", "Forget me")),
    }


def test_every_problem_is_reported_in_one_pass(tmp_path: Path) -> None:
    root = write_content(tmp_path / "content", drop=("sv/demo.intro", "en/common.greet"))
    (root / "commands.yml").write_text("commands:\n  fly: {fi: [lennä]}\n")
    with pytest.raises(ContentError) as caught:
        load_content(root)
    text = str(caught.value)
    assert "template 'demo.intro' (named here) is missing in sv" in text
    assert "template 'common.greet' (the assistant needs it) is missing in en" in text
    assert "content/commands.yml:2: unknown command 'fly'" in text


def test_catalogue_intent_without_flow_is_reported(tmp_path: Path) -> None:
    root = write_content(tmp_path / "content")
    with pytest.raises(ContentError, match="intent 'office_contact' of the NLU data starts no flow"):
        load_content(root, known_intents=INTENTS | {"office_contact"})


def test_broken_template_syntax_names_its_line(tmp_path: Path) -> None:
    root = write_content(tmp_path / "content")
    path = root / "templates" / "fi" / "demo.j2"
    path.write_text(path.read_text() + "{% block broken %}{{ x {% endblock %}\n")
    with pytest.raises(ContentError) as caught:
        load_content(root)
    assert any(str(p).startswith("content/templates/fi/demo.j2:") and "template error" in str(p)
               for p in caught.value.problems)


def test_steps_carry_their_source_line() -> None:
    flows, problems = read_from_string(
        "flows:\n  f:\n    title: {fi: a, sv: b, en: c}\n    steps:\n"
        "      - id: q\n        ask: q\n        slot: s\n        type: yes_no\n"
        "      - id: c\n        choice: c\n        options: [a, b]\n",
        "x.yml",
    )
    assert problems == []
    ask, choice = flows[0].steps
    assert isinstance(ask, AskStep) and ask.source.line == 5 and ask.type == "yes_no"
    assert isinstance(choice, ChoiceStep) and [o.label for o in choice.options] == ["f.opt_a", "f.opt_b"]


def test_yes_and_no_stay_words(tmp_path: Path) -> None:
    content = load_content(write_content(tmp_path / "content"))
    assert content.commands.words["no"] == "no"
    assert content.commands.words["ei"] == "no"
    assert content.commands.languages["pa svenska"] == "sv"


def test_real_content_loads() -> None:
    """The shipped content/ passes every check (the same as `opastin content check`)."""
    load_content(Path(__file__).parents[2] / "content")
