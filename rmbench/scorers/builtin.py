"""rmbench's built-in scorers, registered through the same hook a third-party plugin uses."""

from __future__ import annotations

from collections.abc import Callable

from rmbench import hookimpl
from rmbench.scorers.base import ScorerFactory
from rmbench.scorers.dpo import DPOFactory
from rmbench.scorers.judge.local_backend import JudgeLocalFactory
from rmbench.scorers.judge.scorer import JudgeOpenAIFactory
from rmbench.scorers.sequence_classifier import SequenceClassifierFactory


@hookimpl
def register_scorers(register: Callable[[ScorerFactory], None]) -> None:
    register(SequenceClassifierFactory())
    register(DPOFactory())
    register(JudgeOpenAIFactory())
    register(JudgeLocalFactory())
