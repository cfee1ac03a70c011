"""The program the code sandbox runs: a solution, then its tests, one event line per outcome.

This file is copied into the sandbox's scratch directory and run there by a bare interpreter
(``python -s -B harness.py FD BLOCK_NETWORK DEDICATED_UID``); it imports nothing from rmbench.
Events go, as JSON lines, to file descriptor FD (a pipe the parent reads), never to stdout, so
whatever the solution prints cannot be mistaken for a result.

The process forks once: the parent half only waits (in a PID namespace it is PID 1, which
must reap orphans and which the kernel spares from default-action signals such as the
SIGXCPU of the CPU limit, so the code under test must not run there) and reports how its
child ended, signal included. The child runs ``solution.py`` and ``tests.py`` in one
namespace: every function of ``tests.py`` whose name starts with ``test`` is one test, run in
definition order; a tests file without such functions (plain top-level asserts) is a single
test that passes if the file runs to the end.

Honest limit: the code under test shares this process, so code written to forge results
(writing to FD itself) can; the sandbox contains damage, it does not make results tamper-proof.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import traceback


def _kind(error: BaseException) -> str:
    """How an exception counts: out of memory, out of processes, or the code's own failure."""
    if isinstance(error, MemoryError):
        return "memory"
    if isinstance(error, OSError) and error.errno == errno.EAGAIN:
        return "nproc"  # fork()/thread creation refused: the process-count limit
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return "fsize"  # a write past the file-size limit (Python ignores SIGXFSZ)
    return "error"


def _message(error: BaseException) -> str:
    try:
        text = traceback.format_exception_only(type(error), error)[-1].strip()
    except BaseException:
        text = type(error).__name__
    return text[:300]


def _block_network() -> None:
    """Fallback when no network namespace is available: refuse socket and process creation.

    Best effort only: an audit hook is bypassed by ctypes and C extensions.
    """
    blocked = ("socket.", "os.exec", "os.posix_spawn", "os.system", "subprocess.Popen")

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event.startswith(blocked):
            raise PermissionError(f"blocked in the rmbench sandbox: {event}")

    sys.addaudithook(hook)


def _run(fd: int) -> None:
    main_pid = os.getpid()

    def emit(**event: object) -> None:
        if os.getpid() != main_pid:  # a process the solution forked never reports
            os._exit(0)
        os.write(fd, (json.dumps(event) + "\n").encode())

    namespace: dict[str, object] = {"__name__": "__main__", "__builtins__": __builtins__}
    for stage, path in (("solution", "solution.py"), ("tests", "tests.py")):
        try:
            with open(path, encoding="utf-8") as handle:
                code = compile(handle.read(), path, "exec")
            exec(code, namespace)
        except BaseException as error:
            emit(event="abort", stage=stage, kind=_kind(error), message=_message(error))
            return
    tests = [
        (name, value)
        for name, value in namespace.items()
        if name.startswith("test")
        and callable(value)
        and getattr(getattr(value, "__code__", None), "co_filename", "") == "tests.py"
    ]
    if not tests:
        emit(event="start", total=1)
        emit(event="test", name="tests.py", ok=True)
        emit(event="done")
        return
    emit(event="start", total=len(tests))
    for name, function in tests:
        try:
            function()
        except BaseException as error:
            emit(event="test", name=name, ok=False, kind=_kind(error), message=_message(error))
        else:
            emit(event="test", name=name, ok=True)
    emit(event="done")


def _own_processes() -> None:
    """Become the reaper of every orphan below us (needs a user id that is ours alone)."""
    import ctypes

    pr_set_child_subreaper = 36
    ctypes.CDLL(None).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def _end_own_processes() -> None:
    """Kill whatever the code left running and reap it, so no zombie outlives the run.

    ``kill(-1)`` reaches every process this user id may signal: only safe because the sandbox
    gave this run a user id of its own (or a PID namespace of its own).
    """
    import signal

    with contextlib.suppress(OSError):
        os.kill(-1, signal.SIGKILL)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def main() -> None:
    fd = int(sys.argv[1])
    dedicated = sys.argv[3] == "1"
    if dedicated:
        _own_processes()
    if sys.argv[2] == "1":
        _block_network()
    child = os.fork()
    if child == 0:
        try:
            _run(fd)
        finally:
            for stream in (sys.stdout, sys.stderr):  # os._exit skips the buffers' flush
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(0)
    while True:  # reap every process that ends up ours until the code under test is done
        pid, status = os.wait()
        if pid == child:
            break
    if os.WIFSIGNALED(status):
        os.write(fd, (json.dumps({"event": "exit", "signal": os.WTERMSIG(status)}) + "\n").encode())
    else:
        code = os.WEXITSTATUS(status)
        os.write(fd, (json.dumps({"event": "exit", "code": code}) + "\n").encode())
    if dedicated:
        _end_own_processes()
    os._exit(0)


if __name__ == "__main__":
    main()
