"""Registers the built-in verifiers and the verifier scorer through the plugin hooks."""

from __future__ import annotations

from collections.abc import Callable

from rmbench import hookimpl
from rmbench.scorers.base import ScorerFactory


@hookimpl
def register_scorers(register: Callable[[ScorerFactory], None]) -> None:
    del register  # the verifier scorer factory is registered here once it lands
