"""Shell actions: the named actions whose work is I/O, run for the engine's ``RunAction`` effects.

The engine cannot list or cancel reminders or forget a customer, because it has no database; it
returns ``RunAction(name)`` and ``bot/turns.py`` calls the function registered here under that
name, inside the turn's transaction (``TurnWriter``), so what the action does commits together with
the turn's state or not at all. Each action answers with replies from ``actions.j2``.

``ACTIONS`` must name exactly ``flows.actions.SHELL_ACTIONS`` (a test checks it): the loader accepts
those names in ``action:`` steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from bot.store import ReminderRecord, TurnWriter
from flows.content import Content
from flows.model import Reply
from flows.render import Renderer


@dataclass(frozen=True, slots=True, kw_only=True)
class ShellContext:
    """What a shell action may use: the turn's writer, the content and the turn's clock."""

    writer: TurnWriter
    content: Content
    renderer: Renderer
    language: str
    now: datetime
    """Aware, in the offices' time zone; reminder times are shown in it."""
    args: Mapping[str, Any] = field(default_factory=dict)


ShellAction = Callable[[ShellContext], tuple[Reply, ...]]


def list_reminders(ctx: ShellContext) -> tuple[Reply, ...]:
    """The customer's pending reminders, soonest first."""
    pending = ctx.writer.pending_reminders()
    if not pending:
        return (Reply(template="actions.reminders_none"),)
    items = [
        {
            "due": reminder.due.astimezone(ctx.now.tzinfo),
            "topic": reminder.kind,
            "topic_title": _topic_title(ctx, reminder),
        }
        for reminder in pending
    ]
    return (Reply(template="actions.reminders_list", params={"reminders": items}),)


def cancel_reminders(ctx: ShellContext) -> tuple[Reply, ...]:
    """Cancel every pending reminder (they stay as rows, stamped ``cancelled_at``)."""
    return (Reply(template="actions.reminders_cancelled", params={"count": ctx.writer.cancel_reminders()}),)


def forget_me(ctx: ShellContext) -> tuple[Reply, ...]:
    """Delete the customer's transcript, handoffs, reminders, subscription and state."""
    ctx.writer.forget()
    return (Reply(template="actions.forgotten"),)


def subscribe_bulletins(ctx: ShellContext) -> tuple[Reply, ...]:
    ctx.writer.set_subscribed(True)
    return (Reply(template="actions.subscribed"),)


def unsubscribe_bulletins(ctx: ShellContext) -> tuple[Reply, ...]:
    ctx.writer.set_subscribed(False)
    return (Reply(template="actions.unsubscribed"),)


def _topic_title(ctx: ShellContext, reminder: ReminderRecord) -> str:
    """A short name for what a reminder is about, in the conversation's language.

    In order: the block ``reminders.title_<topic>`` if the content has one; the label of the option
    with the topic's id (the button the customer chose it with in the reminder flow); else the
    reminder's own message, which always exists.
    """
    key = f"reminders.title_{reminder.kind}"
    if ctx.renderer.has(key, ctx.language):
        return ctx.renderer.text(key, ctx.language, {})
    for flow in ctx.content.flows.values():
        for step in flow.steps:
            for option in getattr(step, "options", ()):
                if option.id == reminder.kind and ctx.renderer.has(option.label, ctx.language):
                    return ctx.renderer.text(option.label, ctx.language, {})
    return ctx.renderer.text(reminder.template, ctx.language, dict(reminder.params))


ACTIONS: Final[Mapping[str, ShellAction]] = {
    "list_reminders": list_reminders,
    "cancel_reminders": cancel_reminders,
    "forget_me": forget_me,
    "subscribe_bulletins": subscribe_bulletins,
    "unsubscribe_bulletins": unsubscribe_bulletins,
}
