"""Named actions that ``action:`` steps run.

Two kinds, one namespace. *Pure* actions compute from the state and the clock passed in (a
deadline in working days, a reminder to schedule) and run inside the engine. *Shell* actions need
I/O (list the customer's reminders, forget them); the engine only emits ``RunAction`` and
``bot/actions.py`` performs them after the turn is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Final

import holidays

# Imported here, not through holidays.country_holidays("FI"): the registry imports the country's
# module (~280 modules, ~80 ms) on first use, which made the first deadline computed by a running
# server an 80 ms turn that every turn queued behind it waited for.
from holidays.countries.finland import Finland

from flows.model import Effect, Reply, ScheduleReminder, State


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionContext:
    state: State
    args: Mapping[str, Any]
    now: datetime
    """Aware, in the office's time zone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResult:
    slots: Mapping[str, Any] = field(default_factory=dict)
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()


Action = Callable[[ActionContext], ActionResult]

REMINDER_TOPICS: Final = ("plan_deadline", "video_meeting", "assessment", "applications", "other")
DEFAULT_REMINDER_HOUR: Final = 9


@lru_cache(maxsize=8)
def _finnish_holidays(year: int) -> holidays.HolidayBase:
    return Finland(years=(year, year + 1))


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a Finnish public holiday."""
    return day.weekday() < 5 and day not in _finnish_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` Finnish working days after ``start`` (``start`` itself not counted)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_deadline(ctx: ActionContext) -> ActionResult:
    """Store in ``args.slot`` the date ``args.days`` working days from today (e.g. the 2-day
    service-need assessment deadline, palvelutarpeen arviointi)."""
    days = int(ctx.args.get("days", 1))
    slot = str(ctx.args.get("slot", "deadline"))
    return ActionResult(slots={slot: add_working_days(ctx.now.date(), days).isoformat()})


def _slot_or_literal(ctx: ActionContext, name: str, default: str) -> str:
    raw = str(ctx.args.get(name, default))
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    value = ctx.state.slots.get(raw)
    return str(value) if value is not None else raw


def reminder_due(value: str, now: datetime, *, before_days: int = 0, before_minutes: int = 0) -> datetime:
    """When to remind about ``value`` (an ISO date or datetime): a date at 9 o'clock, earlier by
    ``before_*``, but never in the past."""
    if "T" in value:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=now.tzinfo)
    else:
        moment = datetime.combine(date.fromisoformat(value), time(DEFAULT_REMINDER_HOUR), tzinfo=now.tzinfo)
    moment -= timedelta(days=before_days, minutes=before_minutes)
    return max(moment, now)


def schedule_reminder(ctx: ActionContext) -> ActionResult:
    """Schedule a reminder for the date in slot ``args.when``; the message is ``reminders.<topic>``."""
    when_slot = str(ctx.args.get("when", "when"))
    value = ctx.state.slots.get(when_slot)
    if not isinstance(value, str):
        return ActionResult()
    topic = _slot_or_literal(ctx, "topic", "other")
    if topic not in REMINDER_TOPICS:
        topic = "other"
    due = reminder_due(
        value,
        ctx.now,
        before_days=int(ctx.args.get("before_days", 0)),
        before_minutes=int(ctx.args.get("before_minutes", 0)),
    )
    effect = ScheduleReminder(due=due, template=f"reminders.{topic}", params={"due": value}, kind=topic)
    return ActionResult(slots={"reminder_at": due.isoformat()}, effects=(effect,))


PURE_ACTIONS: Final[Mapping[str, Action]] = {
    "working_days_deadline": working_days_deadline,
    "schedule_reminder": schedule_reminder,
}

SHELL_ACTIONS: Final = frozenset(
    {"list_reminders", "cancel_reminders", "forget_me", "subscribe_bulletins", "unsubscribe_bulletins"}
)
"""Performed by ``bot/actions.py`` after the turn is stored; the engine emits ``RunAction``."""

KNOWN_ACTIONS: Final = frozenset(PURE_ACTIONS) | SHELL_ACTIONS
