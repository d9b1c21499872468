"""Errors of the flows package.

FlowsError
├── ContentError        content/ has problems; lists every ``file:line: problem`` found in one pass
└── EngineError         the engine met content it cannot run (a loop without a question, ...)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flows.model import SourcePos


class FlowsError(Exception):
    """Base of every error raised by ``flows``."""


@dataclass(frozen=True, slots=True)
class ContentProblem:
    """One problem in one place of the content, phrased so that an editor knows what to fix."""

    source: SourcePos
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


class ContentError(FlowsError):
    """Loading ``content/`` found problems; ``problems`` has all of them, in file order."""

    def __init__(self, problems: Sequence[ContentProblem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.source.file, p.source.line)))
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the content:"
        return "\n".join([head, *(str(p) for p in self.problems)])


class EngineError(FlowsError):
    """The engine could not run the content as written (e.g. steps loop without ever asking)."""
