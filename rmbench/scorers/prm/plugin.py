"""Registers the process-reward-model scorers through the same hook a third-party plugin uses."""

from __future__ import annotations

from collections.abc import Callable

from rmbench import hookimpl
from rmbench.scorers.base import ScorerFactory


@hookimpl
def register_scorers(register: Callable[[ScorerFactory], None]) -> None:
    del register  # the PRM scorer factory is registered here once it lands
