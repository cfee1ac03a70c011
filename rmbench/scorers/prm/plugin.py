"""Registers the process-reward-model family through the same hooks a third-party plugin uses:
the ``prm`` scorer and the ``processbench`` suite that evaluates step scores."""

from __future__ import annotations

from collections.abc import Callable

from rmbench import hookimpl
from rmbench.scorers.base import ScorerFactory
from rmbench.scorers.prm.scorer import PRMFactory
from rmbench.suites.base import Suite


@hookimpl
def register_scorers(register: Callable[[ScorerFactory], None]) -> None:
    register(PRMFactory())


@hookimpl
def register_suites(register: Callable[[Suite], None]) -> None:
    from rmbench.suites.processbench import ProcessBenchSuite

    register(ProcessBenchSuite())
