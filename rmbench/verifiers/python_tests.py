"""``python-tests``: does the response's Python code pass the reference's unit tests?

The reference is test code: ``test_*`` functions (each one a separate test, so the score is the
fraction that pass) or plain top-level asserts (one test, scored 1 or 0). The solution is the
last fenced code block of the response (```python, ```py or unlabelled), or the whole
response when it has no fence. Solution and tests run in :mod:`rmbench.verifiers.sandbox`.

Another language would be another verifier with its own harness and the same sandbox
limits; nothing above :mod:`rmbench.verifiers.sandbox` is Python-specific.
"""

from __future__ import annotations

from dataclasses import replace

from rmbench.verifiers.base import Verdict, VerifyItem
from rmbench.verifiers.sandbox import (
    SandboxLimits,
    isolation_mode,
    run_python_tests,
    sandbox_python,
)

_PYTHON_LABELS = ("", "python", "python3", "py")


def extract_code(response: str) -> str:
    """The last ```python (or unlabelled) block of ``response``; the response itself if none.

    A block left open at the end (a truncated generation) still counts.
    """
    blocks: list[str] = []
    current: list[str] | None = None
    label = ""
    for line in response.splitlines():
        fence = line.strip().startswith("```")
        if current is None:
            if fence:
                current, label = [], line.strip()[3:].strip().lower()
        elif fence:
            if label in _PYTHON_LABELS:
                blocks.append("\n".join(current))
            current = None
        else:
            current.append(line)
    if current is not None and label in _PYTHON_LABELS:
        blocks.append("\n".join(current))
    return blocks[-1] if blocks else response


class PythonTestsVerifier:
    """Runs the response's code against the reference's tests in the sandbox."""

    name = "python-tests"
    description = "the response's Python code passes the reference's unit tests (sandboxed)"
    pool_grace_s = 5.0  # the sandbox enforces timeout_s itself and reports; the pool is a backstop
    pool_memory_mb = None  # the sandbox caps the code's memory; the worker itself stays small

    def __init__(self, limits: SandboxLimits | None = None, mode: str | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self.mode = mode

    def identity(self) -> dict[str, object]:
        return {
            "limits": self.limits.as_dict(),
            "isolation": self.mode or isolation_mode(),
            "python": sandbox_python(),
        }

    def check(self, item: VerifyItem) -> Verdict:
        limits = replace(self.limits, wall_s=item.timeout_s)
        result = run_python_tests(
            extract_code(item.response), item.reference, limits, mode=self.mode
        )
        return Verdict(result.status, result.fraction, result.reason)
