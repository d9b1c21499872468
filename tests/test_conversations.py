"""Every conversation in tests/conversations/*.yml, played against the engine with the real NLU.

A case may carry ``xfail_reason:`` (a known NLU miss or a reported engine/content bug). It is then
a strict xfail: the suite stays green while the problem is known, and turns red once it is fixed,
so that the marker is removed and the case guards the fix.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from flows.content import Content
from flows.model import ParsedMessage
from flows.render import Renderer
from tests.conversation_runner import ConversationCase, load_cases, run_case

FOLDER = Path(__file__).parent / "conversations"
CASES = list(load_cases(FOLDER))


def _xfail_reasons(folder: Path) -> dict[tuple[str, str], str]:
    """``(file name, test_case) -> reason`` for the cases marked ``xfail_reason:``."""
    reasons: dict[tuple[str, str], str] = {}
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for case in data.get("test_cases", []):
            if case.get("xfail_reason"):
                reasons[(path.name, case["test_case"])] = str(case["xfail_reason"])
    return reasons


def _param(case: ConversationCase, reasons: dict[tuple[str, str], str]) -> object:
    reason = reasons.get((case.file.name, case.name))
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(case, marks=marks, id=str(case))


REASONS = _xfail_reasons(FOLDER)
PARAMS = [_param(case, REASONS) for case in CASES]


def test_case_names_are_unique_per_file() -> None:
    names = [(case.file.name, case.name) for case in CASES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("case", PARAMS)
def test_conversation(case: ConversationCase, content: Content, renderer: Renderer, nlu_model) -> None:  # type: ignore[no-untyped-def]
    def parse(text: str, lang: str | None, now: datetime) -> ParsedMessage:
        return nlu_model.parse(text, lang_hint=lang, now=now)

    run_case(case, content, renderer, parse)
