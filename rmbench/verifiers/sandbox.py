"""Run untrusted Python code against its tests in a contained subprocess.

What contains it (all on Linux):

* **Resource limits** set in the child before exec: CPU time (RLIMIT_CPU, SIGXCPU at the
  limit), address space (RLIMIT_AS, so a huge allocation raises MemoryError), processes
  (RLIMIT_NPROC, so a fork bomb's forks fail), file size (RLIMIT_FSIZE, which also caps what
  stdout/stderr can write), open files and no core dumps.
* **A wall-clock limit**: the child leads its own session; past ``wall_s`` the whole process
  group is killed with SIGKILL. The child also dies with its parent (PR_SET_PDEATHSIG).
* **Namespaces** (mode ``namespaces``, when rmbench runs as root and ``unshare`` works): a new
  network namespace (no interface but a downed loopback: nothing, not even this machine's
  own servers, is reachable) and a new PID namespace (when the harness exits, the kernel kills
  every process left in it, including any that escaped the process group). The code runs
  under an unprivileged user id of its own (1000000 + a per-run number), so RLIMIT_NPROC,
  which never applies to root, counts only its own processes and it cannot write the project.
* Otherwise (mode ``rlimits``) the network is refused by an audit hook that raises on socket
  and process-spawning events: best effort, as ctypes can bypass it. As non-root,
  RLIMIT_NPROC counts all of this user's processes, so it is set to the user's current task
  count plus ``nproc``.

Every run gets a fresh scratch directory (the working directory, removed afterwards) and an
empty environment; the interpreter is :func:`sandbox_python`. See :mod:`rmbench.verifiers.sandbox_harness` for how tests are run and
results reported.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import json
import math
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmbench.verifiers.base import short

HARNESS = Path(__file__).with_name("sandbox_harness.py")
_PR_SET_PDEATHSIG = 1
_UID_BASE = 1_000_000
_run_counter = itertools.count()


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandboxed run. ``cpu_s`` defaults to ``wall_s``."""

    wall_s: float = 10.0
    cpu_s: float | None = None
    memory_mb: int = 1024
    nproc: int = 16
    output_bytes: int = 1 << 20  # per file written, stdout and stderr included
    open_files: int = 256

    def as_dict(self) -> dict[str, Any]:
        return {
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s if self.cpu_s is not None else self.wall_s,
            "memory_mb": self.memory_mb,
            "nproc": self.nproc,
            "output_bytes": self.output_bytes,
            "open_files": self.open_files,
        }


@dataclass(frozen=True)
class SandboxResult:
    """How a run went. ``status``: passed / failed / timeout / memory / crashed."""

    status: str
    tests_passed: int
    tests_total: int
    reason: str
    stdout: str = ""
    stderr: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.tests_passed / self.tests_total if self.tests_total else 0.0


def _others_can_run(path: str) -> bool:
    """Whether a user with no rights of its own can reach and execute ``path``."""
    real = Path(os.path.realpath(path))
    if not real.is_file() or not real.stat().st_mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in real.parents)


@functools.cache
def sandbox_python() -> str:
    """The interpreter sandboxed code runs under.

    This one, unless rmbench runs as root from a directory other users cannot enter (a pyenv
    under ``/root``): the sandbox's own user id could not load that interpreter's standard
    library, so the system ``python3`` is used instead. Sandboxed code therefore sees only
    the packages of the interpreter it runs under.
    """
    if os.geteuid() != 0 or _others_can_run(sys.executable):
        return sys.executable
    system = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    return system if system and _others_can_run(system) else sys.executable


@functools.cache
def isolation_mode() -> str:
    """``namespaces`` when this process may create network and PID namespaces, else ``rlimits``."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("setpriv") is None:
        return "rlimits"
    probe = ["unshare", "--net", "--pid", "--fork", "--kill-child", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "rlimits"
    return "namespaces" if done.returncode == 0 else "rlimits"


def _user_tasks(uid: int) -> int:
    """Tasks (processes and threads) owned by ``uid``: what RLIMIT_NPROC counts."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def _preexec(limits: SandboxLimits, nproc: int) -> None:
    """Runs in the child between fork and exec: the limits, and death with the parent."""
    cpu = math.ceil(limits.cpu_s if limits.cpu_s is not None else limits.wall_s)
    memory = limits.memory_mb * 1024 * 1024
    for which, soft, hard in (
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_AS, memory, memory),
        (resource.RLIMIT_NPROC, nproc, nproc),
        (resource.RLIMIT_FSIZE, limits.output_bytes, limits.output_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),
    ):
        resource.setrlimit(which, (soft, hard))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _read_capped(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit)
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_python_tests(
    solution: str, tests: str, limits: SandboxLimits | None = None, *, mode: str | None = None
) -> SandboxResult:
    """Run ``solution`` then ``tests`` in the sandbox; see the module docstring.

    ``mode`` forces ``rlimits`` (tests of the fallback); by default the strongest available.
    """
    limits = limits or SandboxLimits()
    mode = mode or isolation_mode()
    if mode not in ("namespaces", "rlimits"):
        raise ValueError(f"unknown sandbox mode {mode!r}")
    root = os.geteuid() == 0
    if mode == "namespaces" and not root:
        raise ValueError("sandbox mode 'namespaces' needs root")
    uid = _UID_BASE + (os.getpid() * 64 + next(_run_counter) % 64) % 2_000_000_000 if root else None
    nproc = limits.nproc if root else _user_tasks(os.getuid()) + limits.nproc
    work = Path(tempfile.mkdtemp(prefix="rmbench-sandbox-"))
    read_fd, write_fd = os.pipe()
    try:
        (work / "solution.py").write_text(solution, encoding="utf-8")
        (work / "tests.py").write_text(tests, encoding="utf-8")
        shutil.copyfile(HARNESS, work / "harness.py")
        stdout_path, stderr_path = work / "stdout.txt", work / "stderr.txt"
        stdout_path.touch()
        stderr_path.touch()
        if uid is not None:
            for path in (work, *work.iterdir()):
                os.chown(path, uid, uid)
        python = [sandbox_python(), "-s", "-B", "harness.py", str(write_fd)]
        python.append("1" if mode == "rlimits" else "0")
        python.append("1" if uid is not None else "0")
        command = python
        if uid is not None:
            # setpriv, not os.setuid in preexec: it keeps its capabilities until exec, so the
            # interpreter is found even under a directory only root may search (/root/.pyenv)
            setpriv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
            command = [*setpriv, *command]
        if mode == "namespaces":
            command = ["unshare", "--net", "--pid", "--fork", "--kill-child", *command]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        events: list[dict[str, Any]] = []
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(
                command,
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(write_fd,),
                start_new_session=True,
                preexec_fn=functools.partial(_preexec, limits, nproc),
            )
        os.close(write_fd)
        write_fd = -1
        reader = threading.Thread(target=_read_events, args=(read_fd, events), daemon=True)
        reader.start()
        timed_out = False
        try:
            process.wait(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        _kill_group(process.pid)  # stragglers of a finished run, or all of a timed-out one
        process.wait()
        reader.join(timeout=5)
        return _result(
            events,
            timed_out,
            limits,
            _read_capped(stdout_path, limits.output_bytes),
            _read_capped(stderr_path, limits.output_bytes),
        )
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)
        shutil.rmtree(work, ignore_errors=True)


def _read_events(fd: int, events: list[dict[str, Any]]) -> None:
    buffer = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not the harness's: ignore rather than trust
            if isinstance(event, dict):
                events.append(event)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _result(
    events: list[dict[str, Any]], timed_out: bool, limits: SandboxLimits, stdout: str, stderr: str
) -> SandboxResult:
    """Turn the harness's events into a status, a test count and a one-line reason."""
    total = next((int(e["total"]) for e in events if e.get("event") == "start"), 0)
    tests = [e for e in events if e.get("event") == "test"]
    passed = sum(1 for e in tests if e.get("ok") is True)
    failures = [e for e in tests if e.get("ok") is not True]
    abort = next((e for e in events if e.get("event") == "abort"), None)
    exit_event = next((e for e in events if e.get("event") == "exit"), None)
    done = any(e.get("event") == "done" for e in events)
    total = max(total, 1)

    def result(status: str, reason: str) -> SandboxResult:
        return SandboxResult(status, passed, total, short(reason), stdout, stderr, events)

    kinds = [e.get("kind") for e in [*failures, *([abort] if abort else [])]]
    first = abort or (failures[0] if failures else None)
    if timed_out:
        return result("timeout", f"wall-clock limit of {limits.wall_s:g} s reached")
    if exit_event is not None and "signal" in exit_event:
        name = _signal_name(int(exit_event["signal"]))
        if name in ("SIGXCPU", "SIGKILL"):
            cpu = limits.cpu_s if limits.cpu_s is not None else limits.wall_s
            return result("timeout", f"CPU time limit of {cpu:g} s reached ({name})")
        if name == "SIGXFSZ":
            return result("crashed", f"file/output size limit of {limits.output_bytes} bytes")
        return result("crashed", f"killed by {name}")
    if "memory" in kinds:
        return result("memory", f"memory limit of {limits.memory_mb} MB reached (MemoryError)")
    if "fsize" in kinds:
        return result("crashed", f"file/output size limit of {limits.output_bytes} bytes reached")
    if "nproc" in kinds:
        return result("crashed", f"process limit of {limits.nproc} reached ({first['message']})")  # type: ignore[index]
    if abort is not None:
        return result("failed", f"{abort['stage']}.py: {abort['message']}")
    if not done:
        code = exit_event.get("code") if exit_event else None
        return result("crashed", f"exited before the tests finished (exit code {code})")
    if failures:
        return result(
            "failed", f"{len(failures)}/{total} failed; {first['name']}: {first.get('message', '')}"
        )  # type: ignore[index]
    return result("passed", f"{passed}/{total} tests passed")
