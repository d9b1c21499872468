"""The conversation engine: ``step(content, state, message, now=…) -> Outcome``. No I/O at all.

Theory of operation
-------------------
A conversation is a stack of flow frames. The top frame names the step that runs next, or, when
``waiting``, the question whose answer the next message brings. ``step`` takes one parsed message
and decides, by the rules below in this order, what it means; then it *runs* steps (``_run``) until
a question waits for an answer or the stack is empty, collecting replies and effects.

Rule 1 (payloads).   ``/c:<ref>:<n>`` presses button n of the question ``ref`` (a short hash of flow
                     and step). A ref that is not the waiting question is a stale or forged button:
                     say so and ask the current question again. ``/start``, ``/lang xx`` and the
                     command words' slash forms (``/back`` …) are commands; an unknown ``/word`` is
                     an unknown command.
Rule 2 (commands).   A message that is exactly a command word of any language (``takaisin``,
                     ``tillbaka``, ``back``) runs that command; a language phrase (``på svenska``)
                     switches language. Commands work inside any flow and leave it where it is.
Rule 3 (offers).     If the last turn offered something (a person, a flow), yes takes it, no declines
                     it and asks the interrupted question again; anything else drops the offer.
Rule 4 (answers).    If a question waits and the message answers it (a button, its number, a label,
                     yes/no, a date …), store the slot and go on.
Rule 5 (intents).    A recognised intent starts its flow. While a question waits this is a
                     digression: a one-message answer is given at once and the question asked
                     again; a longer flow is offered first (an explicit menu button starts it).
Rule 6 (fallback).   Otherwise: at a question, re-ask with a hint, and after two misses offer a
                     person; outside a flow, ask to rephrase (offering the flows the NLU half
                     recognised, as buttons), then show the menu, then offer a person.

The engine never mutates: each rule returns a new ``State`` (``dataclasses.replace``). It reads no
clock (``now`` is passed in) and renders no text (replies are template keys; ``flows.render``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from flows.actions import PURE_ACTIONS, SHELL_ACTIONS, Action, ActionContext
from flows.content import (
    END,
    ActionStep,
    AskStep,
    BranchStep,
    CallStep,
    ChoiceStep,
    Content,
    EndStep,
    Flow,
    HandoffStep,
    Option,
    SayStep,
    Step,
)
from flows.errors import EngineError
from flows.model import (
    LANGUAGES,
    OUT_OF_SCOPE,
    Button,
    Effect,
    Frame,
    Handoff,
    Outcome,
    ParsedMessage,
    Reply,
    RunAction,
    State,
)
from flows.render import make_environment
from flows.text import fold

MAX_STEPS_PER_TURN: Final = 100
"""Guards against content that loops without asking anything."""
HISTORY_LIMIT: Final = 20
MAX_FAILURES: Final = 2
"""Answers that fail validation before the engine offers a person."""
CHOICE_PREFIX: Final = "/c:"
YES_PAYLOAD: Final = "/affirm"
NO_PAYLOAD: Final = "/deny"
YES_NO_MIN_CONFIDENCE: Final = 0.5
"""An NLU yes/no below this is not taken as an answer: a "yes" may confirm deleting data."""
SUGGESTION_MIN_CONFIDENCE: Final = 0.15
"""A flow this likely, though not likely enough to start, is offered as a button when the message
was not understood: one press instead of rephrasing (Rasa's two-stage fallback, in one step)."""
SUGGESTIONS_SHOWN: Final = 2
DIGRESSION_MIN_CONFIDENCE: Final = 0.5
"""While a question waits, another flow below this is not offered: a customer in the middle of a
flow is far more likely to be answering badly ("at the end of the month I think" to a date
question, 0.35 end_job_search) than changing the subject, and the step's own hint helps more
than "do you want to switch to ending your job search?"."""
OFFER_HANDOFF: Final = "handoff:"
OFFER_FLOW: Final = "flow:"
SLASH_COMMANDS: Final = {
    "back": "back",
    "repeat": "repeat",
    "restart": "restart",
    "cancel": "cancel",
    "stop": "cancel",
    "menu": "menu",
    "help": "help",
    "human": "human",
    "lang": "language",
    "language": "language",
}

SLASH_INTENTS: Final = {
    "forget": "forget_me",
    "reminders": "list_reminders",
    "subscribe": "subscribe_bulletins",
    "unsubscribe": "unsubscribe_bulletins",
    "privacy": "privacy_info",
}
"""Short slash commands the texts mention (``/forget``) and the intent each one stands for."""

SMALLTALK: Final = {
    "greet": "common.greet",
    "goodbye": "common.goodbye",
    "thanks": "common.thanks",
    "bot_challenge": "common.bot_challenge",
}


@dataclass(slots=True)
class _Turn:
    """Replies and effects collected during one ``step``; the only mutable thing, and turn-local."""

    content: Content
    now: datetime
    actions: Mapping[str, Action]
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)

    def say(self, template: str, buttons: tuple[Button, ...] = (), **params: Any) -> None:
        self.replies.append(Reply(template=template, params=params, buttons=buttons))


def step(
    content: Content,
    state: State,
    message: ParsedMessage,
    *,
    now: datetime,
    actions: Mapping[str, Action] = PURE_ACTIONS,
) -> Outcome:
    """Handle one message: the new state, the replies to send and the effects to perform."""
    turn = _Turn(content, now, actions)
    state = replace(state, version=state.version + 1)
    if message.language in LANGUAGES and message.language != state.language:
        state = replace(state, language=message.language)
    state = _handle(turn, state, message)
    return Outcome(state=state, replies=tuple(turn.replies), effects=tuple(turn.effects))


def start(content: Content, state: State, *, now: datetime) -> Outcome:
    """The first contact (``/start``): the privacy notice and the choice of language."""
    turn = _Turn(content, now, PURE_ACTIONS)
    turn.say("common.privacy_notice")
    turn.say("common.choose_language", _language_buttons())
    return Outcome(state=replace(state, version=state.version + 1), replies=tuple(turn.replies))


def choice_ref(flow_id: str, step_id: str) -> str:
    """A short, stable name for a question, carried in its buttons' payloads (Telegram allows 64 bytes)."""
    return hashlib.blake2s(f"{flow_id}/{step_id}".encode(), digest_size=3).hexdigest()


# --------------------------------------------------------------------------------------------------
# Rules 1–6
# --------------------------------------------------------------------------------------------------


def _handle(turn: _Turn, state: State, msg: ParsedMessage) -> State:
    text = msg.text.strip()
    folded = fold(text)
    if text.startswith(CHOICE_PREFIX):
        return _pressed(turn, state, text)
    if text.startswith("/") and text not in (YES_PAYLOAD, NO_PAYLOAD):
        command, _, argument = text[1:].partition(" ")
        command = command.split("@", 1)[0].lower()  # Telegram appends @botname in groups
        if command == "start":
            turn.say("common.privacy_notice")
            turn.say("common.choose_language", _language_buttons())
            return _clear_offer(state)
        if command in ("lang", "language") and argument.strip() in LANGUAGES:
            return _switch_language(turn, state, argument.strip())
        if command in SLASH_COMMANDS:
            return _command(turn, state, SLASH_COMMANDS[command])
        if SLASH_INTENTS.get(command) in turn.content.intent_flows:
            msg = replace(msg, intent=SLASH_INTENTS[command], confidence=1.0)
        if msg.intent == OUT_OF_SCOPE or msg.confidence < 1.0:
            turn.say("common.unknown_command", command=command[:32])
            return _reask(turn, _clear_offer(state))
    words = turn.content.commands.words
    if folded in turn.content.commands.languages:
        return _switch_language(turn, state, turn.content.commands.languages[folded])
    if folded in words and words[folded] not in ("yes", "no"):
        return _command(turn, state, words[folded])
    answer = _yes_no(turn, msg, folded)
    if text in (YES_PAYLOAD, NO_PAYLOAD) and state.offer is None and not _takes_yes_no(turn, state):
        turn.say("common.button_expired")
        return _reask(turn, state) if state.frame and state.frame.waiting else state
    if state.offer is not None:
        if answer is not None:
            return _resolve_offer(turn, state, accepted=answer)
        state = _clear_offer(state)
    frame = state.frame
    if frame is not None and frame.waiting:
        current = _current_step(turn, frame)
        value = _answer(turn, state, current, msg, folded, answer)
        if value is not _NO_ANSWER:
            return _accept(turn, state, frame, current, value)
        if _answers_date_badly(turn, current, msg):
            turn.say("common.date_in_past")
            return _reask(turn, state, hint=False)
        if _answers_date_partly(current, msg) and not _asks_for_a_flow(turn, msg):
            # "huomenna" to "when?" wanting a day and a time: an answer, only incomplete. Whatever
            # intent the word also resembles (goodbye: "huomiseen!"), the hint is what helps.
            return _not_understood(turn, state)
    return _route(turn, state, msg)


def _takes_yes_no(turn: _Turn, state: State) -> bool:
    """Whether the waiting question can be answered by a Yes/No button."""
    current = _current_step(turn, state.frame) if state.frame and state.frame.waiting else None
    if isinstance(current, AskStep) and current.type == "yes_no":
        return True
    return any(o.id in ("yes", "no") for o in getattr(current, "options", ()))


class _NoAnswer:
    pass


_NO_ANSWER: Final = _NoAnswer()


def _route(turn: _Turn, state: State, msg: ParsedMessage) -> State:
    """Rule 5 and 6: what a message that answers nothing pending means."""
    intent = msg.intent
    frame = state.frame
    waiting = frame is not None and frame.waiting
    explicit = msg.text.startswith("/") and msg.confidence >= 1.0
    if intent in SMALLTALK:
        turn.say(SMALLTALK[intent], _menu_buttons(turn, state) if intent == "greet" and not waiting else ())
        return _reask(turn, _reset_misses(state)) if waiting else _reset_misses(state)
    if intent == "help":
        _show_help(turn, state)
        return _reask(turn, _reset_misses(state)) if waiting else _reset_misses(state)
    if intent == "talk_to_human":
        return _command(turn, state, "human")
    if intent == "change_language":
        return _command(turn, state, "language")
    flow_id = turn.content.intent_flows.get(intent)
    if flow_id is not None:
        flow = turn.content.flows[flow_id]
        if not waiting:
            return _start_flow(turn, _reset_misses(state), flow)
        if not explicit and msg.confidence < DIGRESSION_MIN_CONFIDENCE:
            return _not_understood(turn, state, msg)
        if any(f.flow == flow_id for f in state.stack):
            return _reask(turn, state, hint=False)
        if explicit or not flow.interactive:
            return _start_flow(turn, _reset_misses(state), flow)
        turn.say("common.digression_offer", _yes_no_buttons(), title=flow.title.get(state.language, flow.id))
        return replace(state, offer=OFFER_FLOW + flow_id)
    return _not_understood(turn, state, msg)


def _not_understood(turn: _Turn, state: State, msg: ParsedMessage | None = None) -> State:
    frame = state.frame
    if frame is not None and frame.waiting:
        failures = state.failures + 1
        if failures >= MAX_FAILURES:
            turn.say("common.offer_human", _yes_no_buttons())
            return replace(state, failures=0, offer=OFFER_HANDOFF + "invalid_input")
        return _reask(turn, replace(state, failures=failures), hint=True)
    fallbacks = state.fallbacks + 1
    if fallbacks == 1:
        suggestions = _suggestions(turn, state, msg)
        if suggestions:
            turn.say("common.did_you_mean", suggestions)
        else:
            turn.say("common.not_understood")
        return replace(state, fallbacks=fallbacks)
    if fallbacks == 2:
        turn.say("common.not_understood_menu", _menu_buttons(turn, state))
        return replace(state, fallbacks=fallbacks)
    turn.say("common.offer_human", _yes_no_buttons())
    return replace(state, fallbacks=0, offer=OFFER_HANDOFF + "not_understood")


def _suggestions(turn: _Turn, state: State, msg: ParsedMessage | None) -> tuple[Button, ...]:
    """Buttons for the flows the message's ranking half recognised, most likely first."""
    if msg is None:
        return ()
    found: list[str] = []
    for score in msg.ranking:
        flow_id = turn.content.intent_flows.get(score.name)
        if score.confidence < SUGGESTION_MIN_CONFIDENCE or len(found) == SUGGESTIONS_SHOWN:
            break
        if flow_id is not None and flow_id not in found:
            found.append(flow_id)
    return tuple(_flow_button(turn, state, f) for f in found)


def _command(turn: _Turn, state: State, command: str) -> State:
    state = _clear_offer(state)
    frame = state.frame
    waiting = frame is not None and frame.waiting
    if command == "back":
        if len(state.history) < 2:
            turn.say("common.back_not_possible")
            return _reask(turn, state)
        history = state.history[:-1]
        return _reask(turn, replace(state, stack=history[-1], history=history, failures=0))
    if command == "repeat":
        if not waiting:
            turn.say("common.repeat_nothing", _menu_buttons(turn, state))
            return state
        return _reask(turn, replace(state, failures=0))
    if command == "restart":
        if not state.stack:
            _show_menu(turn, state)
            return state
        flow = turn.content.flows[state.stack[0].flow]
        turn.say("common.restarted")
        return _start_flow(turn, _reset(state), flow)
    if command == "cancel":
        if not state.stack:
            turn.say("common.nothing_to_cancel", _menu_buttons(turn, state))
            return state
        turn.say("common.cancelled", _menu_buttons(turn, state))
        return _reset(state)
    if command in ("menu", "help"):
        if command == "help":
            turn.say("common.help")
        _show_menu(turn, state)
        return state
    if command == "human":
        return _handoff(turn, state, reason="asked")
    if command == "language":
        turn.say("common.choose_language", _language_buttons())
        return state
    raise EngineError(f"unknown command {command!r}")


def _switch_language(turn: _Turn, state: State, language: str) -> State:
    state = replace(_clear_offer(state), language=language)
    turn.say("common.language_changed")
    frame = state.frame
    if frame is not None and frame.waiting:
        return _reask(turn, state)
    _show_menu(turn, state)
    return state


def _resolve_offer(turn: _Turn, state: State, *, accepted: bool) -> State:
    offer = state.offer or ""
    state = _clear_offer(state)
    if offer.startswith(OFFER_HANDOFF):
        if accepted:
            return _handoff(turn, state, reason=offer.removeprefix(OFFER_HANDOFF))
        turn.say("common.handoff_declined")
        return _reask(turn, state) if state.frame and state.frame.waiting else state
    flow_id = offer.removeprefix(OFFER_FLOW)
    if accepted and flow_id in turn.content.flows:
        return _start_flow(turn, state, turn.content.flows[flow_id])
    return _reask(turn, state)


def _handoff(turn: _Turn, state: State, *, reason: str) -> State:
    topic = state.stack[0].flow if state.stack else "general"
    flow = turn.content.flows.get(topic)
    title = flow.title.get(state.language, topic) if flow else ""
    turn.effects.append(Handoff(topic=topic, reason=reason))
    turn.say("common.handoff_done", topic_title=title)
    return replace(state, failures=0, fallbacks=0)


# --------------------------------------------------------------------------------------------------
# Answers (rule 4)
# --------------------------------------------------------------------------------------------------


def _pressed(turn: _Turn, state: State, payload: str) -> State:
    """A choice button: valid only for the question that is waiting now."""
    ref, _, number = payload[len(CHOICE_PREFIX) :].partition(":")
    frame = state.frame
    current = _current_step(turn, frame) if frame is not None and frame.waiting else None
    options = getattr(current, "options", ())
    if (
        frame is None
        or current is None
        or ref != choice_ref(frame.flow, frame.step)
        or not number.isdigit()
        or not 0 <= int(number) < len(options)
    ):
        turn.say("common.button_expired")
        if current is None:
            _show_menu(turn, state)
            return _clear_offer(state)
        return _reask(turn, _clear_offer(state))
    return _accept(turn, _clear_offer(state), frame, current, options[int(number)])


def _yes_no(turn: _Turn, msg: ParsedMessage, folded: str) -> bool | None:
    if msg.text.strip() == YES_PAYLOAD:
        return True
    if msg.text.strip() == NO_PAYLOAD:
        return False
    word = turn.content.commands.words.get(folded)
    if word in ("yes", "no"):
        return word == "yes"
    if msg.confidence >= YES_NO_MIN_CONFIDENCE and msg.intent in ("affirm", "deny"):
        return msg.intent == "affirm"
    return None


def _answer(turn: _Turn, state: State, current: Step, msg: ParsedMessage, folded: str, yes_no: bool | None) -> Any:
    """The value ``msg`` gives the waiting question, or ``_NO_ANSWER``."""
    if isinstance(current, ChoiceStep) or (isinstance(current, AskStep) and current.type == "choice"):
        return _match_option(turn, current.options, folded, yes_no)
    if not isinstance(current, AskStep):
        return _NO_ANSWER
    kind = current.type
    if kind == "yes_no":
        return yes_no if yes_no is not None else _NO_ANSWER
    if kind in ("date", "datetime"):
        entity = msg.entity("datetime") if kind == "datetime" else msg.entity("date", "datetime")
        if entity is None:
            return _NO_ANSWER
        day = entity.as_date()
        if day is None or (current.future and day < turn.now.date()):
            return _NO_ANSWER
        if kind == "datetime":
            moment = datetime.fromisoformat(entity.value)
            if current.future and moment.replace(tzinfo=None) < turn.now.replace(tzinfo=None):
                return _NO_ANSWER
            return moment.isoformat(timespec="minutes")
        return day.isoformat()
    if kind == "time":
        entity = msg.entity("time", "datetime")
        moment = entity.as_time() if entity else None
        return moment.isoformat(timespec="minutes") if moment else _NO_ANSWER
    if kind == "number":
        entity = msg.entity("number")
        raw = entity.value if entity else msg.text.strip()
        try:
            number = float(raw.replace(",", "."))
        except ValueError:
            return _NO_ANSWER
        if (current.min is not None and number < current.min) or (current.max is not None and number > current.max):
            return _NO_ANSWER
        return int(number) if number.is_integer() else number
    # free text: anything that is not plainly a request for something else
    if _asks_for_a_flow(turn, msg):
        return _NO_ANSWER
    return msg.text.strip()


def _asks_for_a_flow(turn: _Turn, msg: ParsedMessage) -> bool:
    """Plainly a request for one of the flows, not an answer to the question asked."""
    return msg.intent != OUT_OF_SCOPE and msg.intent in turn.content.intent_flows and msg.confidence >= 0.9


def _answers_date_badly(turn: _Turn, current: Step, msg: ParsedMessage) -> bool:
    """A date that parsed but lies in the past, for a question that wants a future date."""
    if not (isinstance(current, AskStep) and current.type in ("date", "datetime") and current.future):
        return False
    entity = msg.entity("date", "datetime")
    if entity is None:
        return False
    if entity.type == "datetime":
        return datetime.fromisoformat(entity.value).replace(tzinfo=None) < turn.now.replace(tzinfo=None)
    day = entity.as_date()
    return day is not None and day < turn.now.date()


def _answers_date_partly(current: Step, msg: ParsedMessage) -> bool:
    """A date or time that does not make a whole answer to a date or time question."""
    if not (isinstance(current, AskStep) and current.type in ("date", "datetime", "time")):
        return False
    return msg.entity("date", "datetime", "time") is not None


def _match_option(turn: _Turn, options: tuple[Option, ...], folded: str, yes_no: bool | None) -> Option | _NoAnswer:
    """Which option a typed answer means: its number, its id, its text in any language, or a
    unique part of that text; a yes/no answer picks an option whose id is yes/no."""
    if folded.isdigit() and 1 <= int(folded) <= len(options):
        return options[int(folded) - 1]
    labels = turn.content.labels
    for option in options:
        if folded and (folded == fold(option.id) or folded in labels.get(option.label, ())):
            return option
    if len(folded) >= 4:
        hits = [o for o in options if any(folded in label for label in labels.get(o.label, ()))]
        if len(hits) == 1:
            return hits[0]
    if yes_no is not None:
        hits = [o for o in options if o.id == ("yes" if yes_no else "no")]
        if len(hits) == 1:
            return hits[0]
    return _NO_ANSWER


def _accept(turn: _Turn, state: State, frame: Frame, current: Step, value: Any) -> State:
    flow = turn.content.flows[frame.flow]
    state = _reset_misses(state)
    if isinstance(value, Option):
        slot = getattr(current, "slot", None)
        if slot:
            state = state.with_slots(**{slot: value.id})
        if isinstance(current, ChoiceStep) and value.next is not None:
            target = None if value.next == END else value.next
        else:
            target = flow.after(current)
    else:
        assert isinstance(current, AskStep)
        state = state.with_slots(**{current.slot: value})
        target = flow.after(current)
    return _run(turn, _goto(state, target))


# --------------------------------------------------------------------------------------------------
# Running steps
# --------------------------------------------------------------------------------------------------


def _start_flow(turn: _Turn, state: State, flow: Flow) -> State:
    frame = Frame(flow=flow.id, step=flow.steps[0].id)
    return _run(turn, replace(state, stack=(*state.stack, frame)))


def _goto(state: State, target: str | None) -> State:
    """Continue the top frame at ``target``; ``None`` ends its flow."""
    frame = state.stack[-1]
    if target is None:
        return replace(state, stack=state.stack[:-1])
    return replace(state, stack=(*state.stack[:-1], Frame(flow=frame.flow, step=target)))


def _run(turn: _Turn, state: State) -> State:
    """Run steps until a question waits or every flow has ended."""
    ended_any = False
    for _ in range(MAX_STEPS_PER_TURN):
        frame = state.frame
        if frame is None:
            if ended_any:
                turn.say("common.anything_else")
            return replace(state, history=(), failures=0)
        flow = turn.content.flows[frame.flow]
        current = flow.step(frame.step)
        if frame.waiting:
            # a digression or a called flow ended and handed back to a pending question
            turn.say("common.returning", title=flow.title.get(state.language, flow.id))
            return _reask(turn, state, hint=False)
        depth = len(state.stack)
        state = _run_one(turn, state, flow, current)
        if state.frame is not None and state.frame.waiting and len(state.stack) == depth:
            return state
        if len(state.stack) < depth:
            ended_any = True
    raise EngineError(
        f"flow {state.frame.flow if state.frame else '?'} ran {MAX_STEPS_PER_TURN} steps without asking anything"
    )


def _run_one(turn: _Turn, state: State, flow: Flow, current: Step) -> State:
    if isinstance(current, SayStep):
        turn.say(current.template)
        return _goto(state, flow.after(current))
    if isinstance(current, AskStep | ChoiceStep):
        waiting = Frame(flow=flow.id, step=current.id, waiting=True)
        state = replace(state, stack=(*state.stack[:-1], waiting))
        state = replace(state, history=(*state.history, state.stack)[-HISTORY_LIMIT:])
        _question(turn, state, flow, current)
        return state
    if isinstance(current, BranchStep):
        return _goto(state, _branch_target(current, state))
    if isinstance(current, CallStep):
        callee = turn.content.flows[current.flow]
        returned = _goto(state, flow.after(current))
        return replace(returned, stack=(*returned.stack, Frame(flow=callee.id, step=callee.steps[0].id)))
    if isinstance(current, ActionStep):
        return _goto(_action(turn, state, current), flow.after(current))
    if isinstance(current, HandoffStep):
        turn.effects.append(Handoff(topic=flow.id, reason=current.reason))
        turn.say(current.template)
        return _goto(state, flow.after(current))
    if isinstance(current, EndStep):
        if current.template:
            turn.say(current.template)
        return _goto(state, None)
    raise EngineError(f"unknown step type {type(current).__name__}")


def _action(turn: _Turn, state: State, current: ActionStep) -> State:
    if current.action in SHELL_ACTIONS:
        turn.effects.append(RunAction(name=current.action, args=dict(current.args), at=len(turn.replies)))
        return state
    action = turn.actions[current.action]
    result = action(ActionContext(state=state, args=current.args, now=turn.now))
    turn.replies.extend(result.replies)
    turn.effects.extend(result.effects)
    return state.with_slots(**result.slots) if result.slots else state


@lru_cache(maxsize=512)
def _compiled(expr: str) -> Any:
    return make_environment(html=False).compile_expression(expr, undefined_to_none=True)


def _branch_target(current: BranchStep, state: State) -> str | None:
    for condition in current.conditions:
        if condition.expr is None or _compiled(condition.expr)(**state.slots):
            return None if condition.next == END else condition.next
    return None


def _question(turn: _Turn, state: State, flow: Flow, current: Step, *, hint: bool = False) -> None:
    assert isinstance(current, AskStep | ChoiceStep)
    buttons: tuple[Button, ...] = ()
    if current.options:
        ref = choice_ref(flow.id, current.id)
        buttons = tuple(
            Button(label=o.label, payload=f"{CHOICE_PREFIX}{ref}:{i}") for i, o in enumerate(current.options)
        )
    elif isinstance(current, AskStep) and current.type == "yes_no":
        buttons = _yes_no_buttons()
    if hint:
        kind = current.type if isinstance(current, AskStep) else "choice"
        hint_key = getattr(current, "hint", None) or f"common.hint_{kind}"
        params = {"min": getattr(current, "min", None), "max": getattr(current, "max", None)}
        turn.say(hint_key, **{k: _int_if_whole(v) for k, v in params.items() if v is not None})
    turn.say(current.template, buttons)


def _int_if_whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _reask(turn: _Turn, state: State, *, hint: bool = False) -> State:
    """Ask the waiting question again (with a hint after a miss); outside a question, do nothing."""
    frame = state.frame
    if frame is None or not frame.waiting:
        return state
    flow = turn.content.flows[frame.flow]
    _question(turn, state, flow, flow.step(frame.step), hint=hint)
    return state


def _current_step(turn: _Turn, frame: Frame | None) -> Step | None:
    if frame is None:
        return None
    flow = turn.content.flows.get(frame.flow)
    if flow is None or frame.step not in flow.index:
        return None
    return flow.step(frame.step)


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _menu_buttons(turn: _Turn, state: State) -> tuple[Button, ...]:
    return tuple(_flow_button(turn, state, f) for f in turn.content.menu)


def _flow_button(turn: _Turn, state: State, flow_id: str) -> Button:
    """A button that starts ``flow_id``: its title, and its first intent as the payload."""
    flow = turn.content.flows[flow_id]
    return Button(text=flow.title.get(state.language, flow_id), payload=f"/{flow.intents[0]}")


def _show_menu(turn: _Turn, state: State) -> None:
    turn.say("common.menu", _menu_buttons(turn, state))


def _show_help(turn: _Turn, state: State) -> None:
    turn.say("common.help")
    _show_menu(turn, state)


def _language_buttons() -> tuple[Button, ...]:
    return tuple(Button(label=f"common.opt_lang_{lang}", payload=f"/lang {lang}") for lang in LANGUAGES)


def _yes_no_buttons() -> tuple[Button, ...]:
    return (Button(label="common.yes", payload=YES_PAYLOAD), Button(label="common.no", payload=NO_PAYLOAD))


def _clear_offer(state: State) -> State:
    return replace(state, offer=None) if state.offer is not None else state


def _reset_misses(state: State) -> State:
    return replace(state, failures=0, fallbacks=0)


def _reset(state: State) -> State:
    return replace(state, stack=(), history=(), failures=0, fallbacks=0, offer=None)
