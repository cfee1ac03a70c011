"""Registers the built-in verifiers and the verifier scorer through the plugin hooks."""

from __future__ import annotations

from collections.abc import Callable

from rmbench import hookimpl
from rmbench.scorers.base import ScorerFactory
from rmbench.verifiers.base import Verifier
from rmbench.verifiers.math import MathVerifier
from rmbench.verifiers.python_tests import PythonTestsVerifier
from rmbench.verifiers.scorer import VerifierFactory


@hookimpl
def register_scorers(register: Callable[[ScorerFactory], None]) -> None:
    register(VerifierFactory())


@hookimpl
def register_verifiers(register: Callable[[Verifier], None]) -> None:
    register(MathVerifier())
    register(PythonTestsVerifier())
