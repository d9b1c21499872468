"""Working-day arithmetic of the pure actions: Finnish public holidays, and no work at first use."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from flows.actions import add_working_days, is_working_day


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 12, 22), 2, date(2026, 12, 28)),  # Christmas Eve and Day, then a weekend
        (date(2026, 12, 31), 1, date(2027, 1, 4)),  # New Year's Day, then a weekend: across the year
        (date(2027, 1, 5), 1, date(2027, 1, 7)),  # Epiphany (6.1.)
        (date(2026, 11, 23), 2, date(2026, 11, 25)),  # an ordinary week
    ],
)
def test_add_working_days_skips_weekends_and_finnish_holidays(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days) == expected


def test_independence_day_is_not_a_working_day_but_the_day_before_is() -> None:
    assert not is_working_day(date(2027, 12, 6))  # a Monday
    assert is_working_day(date(2027, 12, 3))


def test_the_first_deadline_imports_nothing() -> None:
    """The holiday calendar is imported with the module, not on the first turn that needs it:
    lazily it was ~280 imports (80 ms) inside a turn, and every turn queued behind it waited."""
    script = (
        "import sys\n"
        "from datetime import date\n"
        "from flows.actions import add_working_days\n"
        "before = set(sys.modules)\n"
        "add_working_days(date(2026, 12, 22), 5)\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
