"""The math verifier (math-verify) and the process pool that runs every verifier's checks.

Equivalence is checked in-process (math-verify's own timeouts are off, so no signal is
involved); hangs and crashes go through the real pool, whose per-item deadline kills the worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rmbench.verifiers.base import Verdict, VerifyItem
from rmbench.verifiers.math import MathVerifier
from rmbench.verifiers.pool import VerifierPool, run_checks

# sympy evaluates this tower of powers for as long as it is allowed to (checked: > 8 s)
HANGS = r"So the answer is \boxed{9^{9^{9^{9}}}}"


def check(response: str, reference: str) -> Verdict:
    return MathVerifier().check(VerifyItem(response, reference))


@pytest.mark.parametrize(
    ("response", "reference"),
    [
        (r"The answer is \boxed{\frac{1}{2}}.", "0.5"),
        ("Dividing, we get 0.5", r"\frac{1}{2}"),
        (r"$\boxed{0.5}$", "$\\frac12$"),
        (r"\boxed{1/2}", r"\dfrac{1}{2}"),
        (r"Hence $x = \boxed{\sqrt{4}}$", "2"),
        (r"We get \boxed{50\%}", "0.5"),
        (r"\boxed{x^2 + 2x + 1}", "(x+1)^2"),
    ],
)
def test_equivalent_forms_pass(response: str, reference: str) -> None:
    verdict = check(response, reference)
    assert (verdict.status, verdict.score) == ("passed", 1.0), verdict.reason


def test_the_boxed_answer_is_the_one_checked() -> None:
    response = r"Trying 3 and then 7 we add them: \boxed{10}. (Not 7.)"
    assert check(response, "10").status == "passed"
    wrong = check(response, "7")
    assert (wrong.status, wrong.score) == ("failed", 0.0)
    assert wrong.reason == "answer 10 differs from 7"


@pytest.mark.parametrize(
    ("response", "reference"),
    [
        (r"\boxed{2}", r"\frac{1}{2}"),
        (r"\boxed{0.51}", "0.5"),
        (r"\boxed{x^2 + 1}", "(x+1)^2"),
        (r"\boxed{-\frac{1}{2}}", "1/2"),
    ],
)
def test_different_answers_fail(response: str, reference: str) -> None:
    verdict = check(response, reference)
    assert (verdict.status, verdict.score) == ("failed", 0.0)
    assert "differs from" in verdict.reason


def test_no_answer_and_bad_reference() -> None:
    assert check("I do not know.", "4").reason == "no final answer found in the response"
    assert check(r"\boxed{4}", "the usual one").status == "error"


def test_a_hanging_expression_is_killed_and_the_others_still_checked() -> None:
    items = [
        VerifyItem(HANGS, "1", timeout_s=1.5),
        VerifyItem(r"\boxed{\frac{3}{4}}", "0.75", timeout_s=1.5),
        VerifyItem(r"\boxed{5}", "6", timeout_s=1.5),
        VerifyItem(r"\boxed{2^{10}}", "1024", timeout_s=1.5),
    ]
    start = time.monotonic()
    verdicts = dict(run_checks(MathVerifier(), items, workers=2))
    elapsed = time.monotonic() - start

    assert verdicts[0] == Verdict("timeout", 0.0, "the check took longer than 1.5 s")
    assert [verdicts[i].status for i in (1, 2, 3)] == ["passed", "failed", "passed"]
    assert elapsed < 10  # killed at its deadline, not left to run


class SleepyVerifier:
    """A plugin-style verifier whose check takes ``reference`` seconds."""

    name = "sleepy"
    description = "sleeps, then passes"

    def check(self, item: VerifyItem) -> Verdict:
        time.sleep(float(item.reference))
        return Verdict.of(True, f"slept {item.reference} s")


class CrashingVerifier:
    """Dies by SIGSEGV on ``crash``, raises on ``raise``, passes otherwise."""

    name = "crashing"
    description = "crashes on request"

    def check(self, item: VerifyItem) -> Verdict:
        if item.response == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        if item.response == "raise":
            raise ValueError("bad input")
        return Verdict.of(True)


def test_pool_deadline_replaces_the_worker_and_keeps_going() -> None:
    items = [VerifyItem("r", "30", 0.5), *[VerifyItem("r", "0", 0.5) for _ in range(5)]]
    with VerifierPool(SleepyVerifier(), workers=1, grace_s=0.0) as pool:
        start = time.monotonic()
        verdicts = dict(pool.run(items))
        elapsed = time.monotonic() - start
        assert verdicts[0].status == "timeout"
        assert all(verdicts[i] == Verdict("passed", 1.0, "slept 0 s") for i in range(1, 6))
        assert elapsed < 8
        workers = list(pool._workers)
    assert workers and not any(w.process.is_alive() for w in workers)  # closed with the pool


def test_a_crashing_or_raising_check_costs_only_its_item() -> None:
    items = [VerifyItem(r, "x") for r in ("ok", "crash", "ok", "raise", "ok")]
    verdicts = dict(run_checks(CrashingVerifier(), items, workers=2))
    assert verdicts[1] == Verdict("crashed", 0.0, "the worker process died (signal 11)")
    assert verdicts[3] == Verdict("error", 0.0, "check raised ValueError: bad input")
    assert [verdicts[i].status for i in (0, 2, 4)] == ["passed"] * 3


class PidThenHangVerifier:
    """Writes its worker's pid to the file named by ``response``, then hangs."""

    name = "pid-then-hang"
    description = "hangs"

    def check(self, item: VerifyItem) -> Verdict:
        Path(item.response).write_text(str(os.getpid()))
        while True:
            time.sleep(1)


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status  # a zombie is dead, merely not reaped yet


def test_a_hung_worker_dies_with_a_killed_rmbench(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_verifiers_math import PidThenHangVerifier
        from rmbench.verifiers.base import VerifyItem
        from rmbench.verifiers.pool import run_checks
        list(run_checks(PidThenHangVerifier(), [VerifyItem({str(pid_file)!r}, "x", 600)]))
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and parent.poll() is None, "worker never started"
            time.sleep(0.1)
        worker = int(pid_file.read_text())
        assert alive(worker)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker)
