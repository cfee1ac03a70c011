"""The code sandbox and the python-tests verifier: hostile code is contained and reported.

Limits are kept small (a few processes, a few seconds, 512 MB) so the fork bomb and the
allocation cannot hurt the machine even if a limit failed. The network test talks to a real
TCP server on loopback: the same code that reaches it from outside must fail inside.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rmbench.verifiers.base import VerifyItem
from rmbench.verifiers.python_tests import PythonTestsVerifier, extract_code
from rmbench.verifiers.sandbox import (
    _UID_BASE,
    SandboxLimits,
    SandboxResult,
    isolation_mode,
    run_python_tests,
)

LIMITS = SandboxLimits(wall_s=3.0, memory_mb=512, nproc=8, output_bytes=1 << 16)
MODES = ["namespaces", "rlimits"] if isolation_mode() == "namespaces" else ["rlimits"]
ADD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = textwrap.dedent(
    """
    def test_small():
        assert add(1, 2) == 3

    def test_zero():
        assert add(0, 0) == 0

    def test_negative():
        assert add(-1, -1) == -2, "negative numbers"
    """
)


def sandboxed(
    solution: str, tests: str = "assert True\n", mode: str | None = None
) -> SandboxResult:
    return run_python_tests(solution, tests, LIMITS, mode=mode)


def sandbox_uid_processes(settle_s: float = 5.0) -> list[int]:
    """Processes owned by a sandbox user id that are still alive after up to ``settle_s``.

    Killed processes take a moment to exit on a loaded machine, so this polls. Zombies are
    not counted: they run nothing and hold no memory, and one whose parent died is reaped by
    the machine's init, which in some containers never reaps at all.
    """
    deadline = time.monotonic() + settle_s
    while True:
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid < _UID_BASE:
                    continue
                state = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                found.append(int(entry.name))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_passing_solution() -> None:
    result = sandboxed(ADD + "print('defined add')\n", ADD_TESTS)
    assert (result.status, result.tests_passed, result.tests_total) == ("passed", 3, 3)
    assert result.reason == "3/3 tests passed"
    assert result.stdout == "defined add\n"


def test_failing_solution_scores_the_fraction_of_tests_passed() -> None:
    wrong = "def add(a, b):\n    return abs(a) + abs(b)\n"
    result = sandboxed(wrong, ADD_TESTS)
    assert (result.status, result.tests_passed, result.tests_total) == ("failed", 2, 3)
    assert result.fraction == pytest.approx(2 / 3)
    assert result.reason == "1/3 failed; test_negative: AssertionError: negative numbers"


def test_top_level_asserts_are_one_test() -> None:
    assert sandboxed(ADD, "assert add(2, 2) == 4\n").status == "passed"
    failed = sandboxed(ADD, "assert add(2, 2) == 5\n")
    assert (failed.status, failed.tests_passed, failed.tests_total) == ("failed", 0, 1)
    assert failed.reason == "tests.py: AssertionError"
    broken = sandboxed("def add(a, b)\n    return a\n", "assert add(2, 2) == 4\n")
    assert broken.status == "failed" and broken.reason.startswith("solution.py: SyntaxError")


@pytest.mark.parametrize("mode", MODES)
def test_infinite_loop_times_out(mode: str) -> None:
    start = time.monotonic()
    result = sandboxed("while True:\n    pass\n", mode=mode)
    assert result.status == "timeout"
    assert result.reason == "wall-clock limit of 3 s reached"
    assert time.monotonic() - start < LIMITS.wall_s + 2


def test_cpu_limit_stops_a_busy_loop_before_the_wall_clock() -> None:
    limits = SandboxLimits(wall_s=20.0, cpu_s=1.0, memory_mb=512, nproc=8)
    start = time.monotonic()
    result = run_python_tests("while True:\n    pass\n", "assert True\n", limits)
    assert (result.status, result.reason) == ("timeout", "CPU time limit of 1 s reached (SIGXCPU)")
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("mode", MODES)
def test_fork_bomb_is_contained(mode: str) -> None:
    start = time.monotonic()
    result = sandboxed("import os\nwhile True:\n    os.fork()\n", mode=mode)
    assert result.status == "crashed"
    assert result.reason.startswith("process limit of 8 reached (BlockingIOError")
    assert time.monotonic() - start < LIMITS.wall_s + 2
    if os.geteuid() == 0:  # every sandbox process ran under a sandbox uid: none may be left
        assert sandbox_uid_processes() == []


@pytest.mark.parametrize("mode", MODES)
def test_large_allocation_hits_the_memory_limit(mode: str) -> None:
    result = sandboxed("blob = bytearray(4 * 1024**3)\n", mode=mode)
    assert (result.status, result.reason) == (
        "memory",
        "memory limit of 512 MB reached (MemoryError)",
    )


@pytest.fixture
def loopback_server() -> Iterator[int]:
    """A real TCP server on 127.0.0.1 that greets every connection with b'hello'."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def connect_code(port: int) -> str:
    return textwrap.dedent(
        f"""
        import socket
        with socket.create_connection(("127.0.0.1", {port}), timeout=2) as conn:
            greeting = conn.recv(5)
        assert greeting == b"hello", greeting
        print("reached the server")
        """
    )


@pytest.mark.parametrize("mode", MODES)
def test_network_is_unreachable_inside(loopback_server: int, mode: str) -> None:
    code = connect_code(loopback_server)
    outside = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=20, check=False
    )
    assert outside.returncode == 0 and "reached the server" in outside.stdout

    result = sandboxed(code, mode=mode)
    assert result.status == "failed"
    assert "reached the server" not in result.stdout
    expected = (
        "OSError: [Errno 101] Network is unreachable"
        if mode == "namespaces"
        else "PermissionError: blocked in the rmbench sandbox: socket."
    )
    assert result.reason.startswith(f"solution.py: {expected}")


def test_output_is_capped() -> None:
    result = sandboxed("print('x' * 1_000_000)\n")
    assert (result.status, result.reason) == (
        "crashed",
        "file/output size limit of 65536 bytes reached",
    )
    assert len(result.stdout) <= LIMITS.output_bytes


def test_exiting_early_is_not_a_pass() -> None:
    result = sandboxed("import os\nos._exit(0)\n", ADD_TESTS)
    assert (result.status, result.reason) == (
        "crashed",
        "exited before the tests finished (exit code 0)",
    )
    assert sandboxed("import sys\nsys.exit(0)\n").status == "failed"


def test_scratch_directory_is_removed_and_project_unwritable(tmp_path: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob("rmbench-sandbox-*"))
    target = tmp_path / "written.txt"
    code = f"open('here.txt', 'w').write('ok')\nopen({str(target)!r}, 'w').write('escaped')\n"
    result = sandboxed(code)
    assert set(Path(tempfile.gettempdir()).glob("rmbench-sandbox-*")) == before
    if os.geteuid() == 0:  # a uid of its own: only its scratch directory is writable
        assert result.status == "failed" and "PermissionError" in result.reason
        assert not target.exists()


def test_extract_code_takes_the_last_python_block() -> None:
    response = textwrap.dedent(
        """
        First attempt:
        ```python
        def add(a, b): return 0
        ```
        Some shell:
        ```bash
        ls -la
        ```
        Final:
        ```py
        def add(a, b):
            return a + b
        ```
        """
    )
    assert extract_code(response) == "def add(a, b):\n    return a + b"
    assert extract_code("def f(): pass") == "def f(): pass"
    assert extract_code("```python\nx = 1\n") == "x = 1"  # cut off mid-block


def test_python_tests_verifier_scores_fractions() -> None:
    verifier = PythonTestsVerifier(LIMITS)
    response = "Here:\n```python\ndef add(a, b):\n    return abs(a) + abs(b)\n```\n"
    verdict = verifier.check(VerifyItem(response, ADD_TESTS, timeout_s=3.0))
    assert (verdict.status, verdict.score) == ("failed", pytest.approx(2 / 3))
    assert verifier.identity()["isolation"] == isolation_mode()
