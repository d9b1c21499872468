"""The engine's rules, on a small content folder whose templates render as their own keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from flows.content import Content
from flows.engine import choice_ref, start, step
from flows.loader import load_content
from flows.model import Entity, Handoff, IntentScore, Outcome, ParsedMessage, RunAction, State
from tests.flows.minicontent import write_content

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Helsinki"))  # a Monday


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Content:
    return load_content(write_content(tmp_path_factory.mktemp("content")))


def say(content: Content, state: State, text: str, intent: str = "out_of_scope", **kw: object) -> Outcome:
    msg = ParsedMessage(text=text, intent=intent, confidence=1.0 if intent != "out_of_scope" else 0.0, **kw)
    return step(content, state, msg, now=NOW)


def keys(outcome: Outcome) -> list[str]:
    return [r.template for r in outcome.replies]


def press(content: Content, outcome: Outcome, index: int) -> Outcome:
    payload = outcome.replies[-1].buttons[index].payload
    return say(content, outcome.state, payload)


def test_intent_starts_flow_and_stops_at_first_question(content: Content) -> None:
    out = say(content, State(), "miten ilmoittaudun", "register_jobseeker")
    assert keys(out) == ["demo.intro", "demo.ask_citizenship"]
    assert [b.label for b in out.replies[-1].buttons] == ["demo.opt_eu", "demo.opt_other"]
    assert out.state.frame is not None and out.state.frame.waiting
    assert out.state.version == 1


def test_choice_by_button_number_and_label_text(content: Content) -> None:
    first = say(content, State(), "x", "register_jobseeker")
    by_button = press(content, first, 0)
    by_number = say(content, first.state, "1")
    by_label = say(content, first.state, "FI:DEMO.OPT_EU")  # the rendered label, typed
    for out in (by_button, by_number, by_label):
        assert keys(out) == ["demo.ask_codes"]
        assert out.state.slots["citizenship"] == "eu"


def test_branch_on_yes_no_and_handoff_effect(content: Content) -> None:
    out = press(content, say(content, State(), "x", "register_jobseeker"), 0)
    out = say(content, out.state, "ei")
    assert keys(out) == ["demo.in_person", "common.anything_else"]
    assert out.effects == (Handoff(topic="demo", reason="no_identification"),)
    assert out.state.stack == ()


def walk_to_date(content: Content) -> Outcome:
    out = press(content, say(content, State(), "x", "register_jobseeker"), 0)
    return say(content, out.state, "/affirm")


def date_entity(value: str) -> tuple[Entity, ...]:
    return (Entity(type="date", value=value, text=value, start=0, end=len(value)),)


def test_date_answer_is_validated_and_stored(content: Content) -> None:
    out = walk_to_date(content)
    assert keys(out) == ["demo.ask_when"]
    past = say(content, out.state, "1.1.2020", entities=date_entity("2020-01-01"))
    assert keys(past) == ["common.date_in_past", "demo.ask_when"]
    ok = say(content, out.state, "huomenna", entities=date_entity("2026-11-24"))
    assert ok.state.slots["start_date"] == "2026-11-24"
    assert keys(ok) == ["demo.ask_count"]


def test_invalid_answers_hint_then_offer_a_person(content: Content) -> None:
    out = say(content, walk_to_date(content).state, "huomenna", entities=date_entity("2026-11-24"))
    first = say(content, out.state, "paljon")
    assert keys(first) == ["common.hint_number", "demo.ask_count"]
    assert first.replies[0].params == {"min": 0, "max": 10}
    second = say(content, first.state, "11")
    assert keys(second) == ["common.offer_human"]
    yes = say(content, second.state, "joo")
    assert keys(yes) == ["common.handoff_done"]
    assert yes.effects == (Handoff(topic="demo", reason="invalid_input"),)
    declined = say(content, second.state, "/deny")
    assert keys(declined) == ["common.handoff_declined", "demo.ask_count"]


def test_action_call_and_end(content: Content) -> None:
    out = say(content, walk_to_date(content).state, "x", entities=date_entity("2026-11-24"))
    out = say(content, out.state, "3")
    # 2 working days from Monday 23.11.2026 is Wednesday 25.11.
    assert out.state.slots["assessment_due"] == "2026-11-25"
    assert keys(out) == ["short.answer", "demo.done", "common.anything_else"]
    assert out.state.stack == () and out.state.history == ()


def test_back_repeat_restart_cancel_in_any_language(content: Content) -> None:
    at_codes = press(content, say(content, State(), "x", "register_jobseeker"), 0)
    back = say(content, at_codes.state, "TILLBAKA!")
    assert keys(back) == ["demo.ask_citizenship"]
    assert say(content, State(), "back").replies[0].template == "common.back_not_possible"
    assert keys(say(content, at_codes.state, "toista")) == ["demo.ask_codes"]
    restart = say(content, at_codes.state, "start over")
    assert keys(restart) == ["common.restarted", "demo.intro", "demo.ask_citizenship"]
    cancel = say(content, at_codes.state, "/cancel")
    assert keys(cancel) == ["common.cancelled"] and cancel.state.stack == ()
    assert keys(say(content, State(), "peruuta")) == ["common.nothing_to_cancel"]


def test_human_and_language_commands(content: Content) -> None:
    at_codes = press(content, say(content, State(), "x", "register_jobseeker"), 0)
    human = say(content, at_codes.state, "ihminen")
    assert human.effects == (Handoff(topic="demo", reason="asked"),)
    assert human.state.stack == at_codes.state.stack  # the flow waits where it was
    swedish = say(content, at_codes.state, "på svenska")
    assert swedish.state.language == "sv"
    assert keys(swedish) == ["common.language_changed", "demo.ask_codes"]
    chooser = say(content, State(), "/lang")
    assert [b.payload for b in chooser.replies[0].buttons] == ["/lang fi", "/lang sv", "/lang en"]
    assert say(content, State(), "/lang en").state.language == "en"


def test_short_digression_is_answered_and_question_asked_again(content: Content) -> None:
    at_codes = press(content, say(content, State(), "x", "register_jobseeker"), 0)
    out = say(content, at_codes.state, "mikä on starttiraha", "startup_grant")
    assert keys(out) == ["short.answer", "common.returning", "demo.ask_codes"]
    assert out.state.frame == at_codes.state.frame


def test_long_digression_is_offered_first(content: Content) -> None:
    at_codes = press(content, say(content, State(), "x", "register_jobseeker"), 0)
    offer = say(content, at_codes.state, "miten videotapaamiseen", "join_video_meeting")
    assert keys(offer) == ["common.digression_offer"]
    assert offer.replies[0].params == {"title": "Demo fi"[:0] + "Video fi"}
    accepted = say(content, offer.state, "kyllä")
    assert keys(accepted) == ["video.ask_device"]
    done = say(content, accepted.state, "2")
    assert keys(done) == ["video.bye", "common.returning", "demo.ask_codes"]
    refused = say(content, offer.state, "ei")
    assert keys(refused) == ["demo.ask_codes"] and refused.state.offer is None


def test_a_weakly_recognised_flow_mid_question_counts_as_a_failed_answer(content: Content) -> None:
    at_codes = press(content, say(content, State(), "x", "register_jobseeker"), 0)
    for intent in ("join_video_meeting", "startup_grant"):  # one offered, one answered when sure
        weak = ParsedMessage(text="loppukuusta kai", intent=intent, confidence=0.35)
        out = step(content, at_codes.state, weak, now=NOW)
        assert "common.digression_offer" not in keys(out) and "short.answer" not in keys(out)
        assert keys(out)[-1] == "demo.ask_codes"
        assert out.state.frame == at_codes.state.frame and out.state.offer is None
        sure = step(content, at_codes.state, replace(weak, confidence=0.9), now=NOW)
        assert keys(sure)[0] in ("common.digression_offer", "short.answer")


def test_fallback_ladder_outside_flows(content: Content) -> None:
    first = say(content, State(), "asdfgh")
    second = say(content, first.state, "qwerty")
    third = say(content, second.state, "zxcvb")
    assert [keys(o) for o in (first, second, third)] == [
        ["common.not_understood"],
        ["common.not_understood_menu"],
        ["common.offer_human"],
    ]
    assert [b.payload for b in second.replies[0].buttons] == ["/register_jobseeker", "/join_video_meeting"]
    handoff = say(content, third.state, "/affirm")
    assert handoff.effects == (Handoff(topic="general", reason="not_understood"),)


def test_stale_and_forged_buttons(content: Content) -> None:
    first = say(content, State(), "x", "register_jobseeker")
    stale_payload = first.replies[-1].buttons[0].payload
    at_codes = press(content, first, 0)
    stale = say(content, at_codes.state, stale_payload)
    assert keys(stale) == ["common.button_expired", "demo.ask_codes"]
    ref = choice_ref("demo", "citizenship")
    for forged in (f"/c:{ref}:9", f"/c:{ref}:x", "/c:zzzzzz:0", "/c:"):
        assert keys(say(content, first.state, forged))[0] == "common.button_expired"


def test_unknown_slash_command(content: Content) -> None:
    out = say(content, State(), "/frobnicate")
    assert keys(out) == ["common.unknown_command"]


def test_start_offers_privacy_and_language(content: Content) -> None:
    out = start(content, State(), now=NOW)
    assert keys(out) == ["common.privacy_notice", "common.choose_language"]


def test_greet_shows_menu_and_smalltalk_inside_flow_reasks(content: Content) -> None:
    greet = say(content, State(), "moi", "greet")
    assert keys(greet) == ["common.greet"] and len(greet.replies[0].buttons) == 2
    at_codes = press(content, say(content, State(), "x", "register_jobseeker"), 0)
    assert keys(say(content, at_codes.state, "kiitos", "thanks")) == ["common.thanks", "demo.ask_codes"]


def test_state_round_trips_through_json(content: Content) -> None:
    at_codes = press(content, say(content, State(), "x", "register_jobseeker"), 0)
    assert State.from_json(at_codes.state.to_json()) == at_codes.state


def test_shell_actions_leave_as_effects(tmp_path: Path) -> None:
    flows = """\
flows:
  demo:
    title: {fi: a, sv: b, en: c}
    intents: [forget_me]
    steps:
      - action: forget_me
"""
    root = write_content(tmp_path, flows=flows)
    (root / "menu.yml").write_text("menu: [demo]\n")
    content = load_content(root)
    out = say(content, State(), "unohda minut", "forget_me")
    assert out.effects == (RunAction(name="forget_me", args={}, at=0),)
    assert [r.template for r in out.replies] == ["common.anything_else"]  # the shell inserts at 0


def test_engine_is_pure_and_imports_no_io() -> None:
    import ast

    forbidden = {"asyncio", "sqlalchemy", "telegram", "httpx", "socket", "requests", "logging", "bot", "nlu"}
    for path in Path("flows").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path} imports {name}"


def test_slash_aliases_start_their_flow(tmp_path: Path) -> None:
    flows = """\
flows:
  demo:
    title: {fi: a, sv: b, en: c}
    intents: [forget_me]
    steps:
      - id: confirm
        ask: ask_codes
        slot: sure
        type: yes_no
"""
    root = write_content(tmp_path, flows=flows)
    (root / "menu.yml").write_text("menu: [demo]\n")
    (root / "templates" / "fi" / "demo.j2").write_text("{% block ask_codes %}x{% endblock %}")
    for lang in ("sv", "en"):
        (root / "templates" / lang / "demo.j2").write_text("{% block ask_codes %}x{% endblock %}")
    content = load_content(root)
    assert keys(say(content, State(), "/forget")) == ["demo.ask_codes"]


def test_a_date_or_time_that_does_not_answer_a_date_question_gets_the_hint(content: Content) -> None:
    """A time ("klo 9") to "which day?" is an attempt at an answer, whatever intent the words resemble."""
    out = walk_to_date(content)
    time_only = (Entity(type="time", value="09:00", text="klo 9", start=0, end=5),)
    partial = say(content, out.state, "klo 9", "goodbye", entities=time_only)
    assert keys(partial) == ["common.hint_date", "demo.ask_when"]
    assert partial.state.failures == 1
    # the same words without a time are small talk, answered before the question is asked again
    assert keys(say(content, out.state, "moikka", "goodbye"))[0] != "common.hint_date"


def ranked(text: str, *scores: tuple[str, float]) -> ParsedMessage:
    ranking = tuple(IntentScore(name=n, confidence=c) for n, c in scores)
    return ParsedMessage(text=text, intent="out_of_scope", confidence=0.5, ranking=ranking)


def test_a_half_recognised_message_offers_the_likely_flows_as_buttons(content: Content) -> None:
    msg = ranked(
        "huominen nettijuttu",
        ("join_video_meeting", 0.24),
        ("out_of_scope", 0.2),
        ("greet", 0.18),
        ("startup_grant", 0.16),
        ("register_jobseeker", 0.15),
    )
    out = step(content, State(), msg, now=NOW)
    assert keys(out) == ["common.did_you_mean"]
    buttons = out.replies[0].buttons
    assert [(b.text, b.payload) for b in buttons] == [("Video fi", "/join_video_meeting"), ("Lyhyt", "/startup_grant")]
    pressed = say(content, out.state, buttons[0].payload, "join_video_meeting")
    assert out.state.fallbacks == 1 and pressed.state.fallbacks == 0
    assert pressed.state.frame is not None and pressed.state.frame.flow == "video"


def test_nothing_likely_enough_is_a_plain_request_to_rephrase(content: Content) -> None:
    msg = ranked("mitä kuuluu kuussa", ("out_of_scope", 0.8), ("join_video_meeting", 0.1))
    out = step(content, State(), msg, now=NOW)
    assert keys(out) == ["common.not_understood"]
    assert out.replies[0].buttons == ()
    again = step(content, out.state, msg, now=NOW)
    assert keys(again) == ["common.not_understood_menu"]  # the second miss shows the menu, as before
