"""What can go wrong in the NLU package, as one small hierarchy.

::

    NLUError                  base: ``bot/cli.py`` prints it without a traceback and exits 1
    ├── TrainingDataError     one or more problems in the Rasa NLU YAML, each ``file:line: message``
    └── ModelFileError        a saved model that cannot be used (missing, corrupt, other format)

Connection problems with a Rasa server never surface as errors: the Rasa interpreter falls back to
the built-in model instead (see ``nlu.interpreter``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flows.model import SourcePos


class NLUError(Exception):
    """Base of every error the NLU raises on purpose."""


@dataclass(frozen=True, slots=True)
class DataProblem:
    """One mistake in a training-data file and where it is."""

    source: SourcePos
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


class TrainingDataError(NLUError):
    """The training data could not be read; ``problems`` lists every mistake found in one pass."""

    def __init__(self, problems: Sequence[DataProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ModelFileError(NLUError):
    """A saved model file cannot be loaded; retrain with ``opastin nlu train``."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}; retrain it with `opastin nlu train`")
