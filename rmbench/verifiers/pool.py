"""Run verifier checks in worker processes, each item under a deadline enforced from outside.

Why not ``concurrent.futures.ProcessPoolExecutor``: it cannot stop one task. A check that hangs
(math-verify's sympy on ``9^{9^{9^{9}}}`` never returns) would hold its worker forever, and
math-verify's own timeout relies on ``SIGALRM``, which only works on a main thread and which
C code inside sympy can still outlast. Here each worker is a process of its own; when an item
passes its deadline the worker is killed, the item is reported as ``timeout`` and a fresh
worker takes the slot, so one hostile item never blocks or poisons the rest of the run. A
worker that dies (segfault, out of memory) costs only its item, reported as ``crashed``.

Workers are started with ``spawn``: a fresh interpreter, safe in a process that has threads
(torch, polars), and a direct child of this process, so the kernel kills it when this
process dies (PR_SET_PDEATHSIG) and a hung check cannot outlive a ``kill -9`` of rmbench.
(``forkserver`` children cannot have that: every worker keeps the fork server alive.) The
clock of an item starts when it is handed to a worker that has finished starting, so
start-up time never counts against an item.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from rmbench.verifiers.base import Verdict, Verifier, VerifyItem, short

_READY = "ready"
_PR_SET_PDEATHSIG = 1


def _limit_memory(memory_mb: int | None) -> None:
    if memory_mb is None:
        return
    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _die_with_parent() -> None:
    """SIGKILL this worker when the thread that started it (rmbench's) exits."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _worker_main(conn: Connection, verifier: Verifier, memory_mb: int | None) -> None:
    """Check items until told to stop; every outcome, exceptions included, becomes a Verdict."""
    _die_with_parent()
    _limit_memory(memory_mb)
    prepare = getattr(verifier, "prepare", None)
    if callable(prepare):
        prepare()  # heavy imports before the first item's clock starts
    conn.send(_READY)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        index, item = task
        try:
            verdict = verifier.check(item)
            if not isinstance(verdict, Verdict):
                verdict = Verdict("error", 0.0, f"check returned {type(verdict).__name__}")
        except MemoryError:
            verdict = Verdict("memory", 0.0, "the check ran out of memory")
        except Exception as error:
            last = traceback.format_exception_only(error)[-1]
            verdict = Verdict("error", 0.0, short(f"check raised {last}"))
        conn.send((index, verdict))


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process of the spawn context
    conn: Connection
    ready: bool = False
    task: int | None = None  # index of the item in flight
    deadline: float = 0.0

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


class VerifierPool:
    """``workers`` processes checking items with ``verifier``; use as a context manager.

    ``grace_s`` is added to each item's own ``timeout_s`` to form its deadline: a verifier that
    enforces the timeout itself (the code sandbox kills its subprocess at ``timeout_s``) gets
    the chance to report what happened before the pool kills the worker. ``memory_mb`` caps
    each worker's address space (RLIMIT_AS), so a check that would eat the machine's memory
    fails with ``memory`` instead.
    """

    def __init__(
        self,
        verifier: Verifier,
        *,
        workers: int = 2,
        grace_s: float = 0.5,
        memory_mb: int | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.verifier = verifier
        self.n_workers = workers
        self.grace_s = grace_s
        self.memory_mb = memory_mb
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    def __enter__(self) -> VerifierPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in self._workers:
            if worker.process.is_alive() and worker.task is None and worker.ready:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
                worker.process.join(timeout=2)
            worker.kill()
        self._workers.clear()

    def _start_worker(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main,
            args=(child, self.verifier, self.memory_mb),
            daemon=True,
            name=f"rmbench-verify-{self.verifier.name}",
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def run(self, items: Sequence[VerifyItem]) -> Iterator[tuple[int, Verdict]]:
        """Yield ``(index into items, verdict)`` for every item, in completion order."""
        todo: deque[int] = deque(range(len(items)))
        remaining = len(items)
        while len(self._workers) < min(self.n_workers, max(remaining, 1)):
            self._workers.append(self._start_worker())
        while remaining:
            for worker in self._workers:
                if worker.ready and worker.task is None and todo:
                    index = todo.popleft()
                    worker.task = index
                    worker.deadline = time.monotonic() + items[index].timeout_s + self.grace_s
                    worker.conn.send((index, items[index]))
            busy = [w for w in self._workers if w.task is not None]
            now = time.monotonic()
            wait_s = max(0.0, min((w.deadline - now for w in busy), default=1.0))
            ready = multiprocessing.connection.wait([w.conn for w in self._workers], wait_s)
            for slot, worker in enumerate(list(self._workers)):
                outcome: tuple[int, Verdict] | None = None
                if worker.conn in ready:
                    try:
                        message = worker.conn.recv()
                    except (EOFError, OSError):
                        message = None
                    if message == _READY:
                        worker.ready = True
                        continue
                    if message is not None:
                        outcome = message
                        worker.task = None
                    else:  # the worker died
                        outcome = self._replace(slot, worker, "crashed")
                elif worker.task is not None and time.monotonic() >= worker.deadline:
                    outcome = self._replace(slot, worker, "timeout", items[worker.task])
                if outcome is not None and outcome[0] is not None:
                    remaining -= 1
                    yield outcome

    def _replace(
        self, slot: int, worker: _Worker, status: str, item: VerifyItem | None = None
    ) -> tuple[Any, Verdict]:
        """Kill ``worker``, start a fresh one in its slot, and say what became of its item."""
        index = worker.task
        worker.kill()
        self._workers[slot] = self._start_worker()
        if index is None:
            if not worker.ready:  # died while starting: nothing of ours is in it, but say why
                raise RuntimeError(
                    f"verifier worker for {self.verifier.name!r} died on start-up "
                    f"(exit code {worker.process.exitcode})"
                )
            return None, Verdict("crashed", 0.0)
        if status == "timeout":
            assert item is not None
            limit = item.timeout_s + self.grace_s
            return index, Verdict("timeout", 0.0, f"the check took longer than {limit:g} s")
        code = worker.process.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return index, Verdict("crashed", 0.0, f"the worker process died ({how})")


def run_checks(
    verifier: Verifier,
    items: Sequence[VerifyItem],
    *,
    workers: int = 2,
    grace_s: float | None = None,
    memory_mb: int | None = None,
) -> Iterator[tuple[int, Verdict]]:
    """Check ``items`` in a fresh pool; nothing is started for an empty list.

    ``grace_s`` and ``memory_mb`` default to the verifier's optional ``pool_grace_s`` and
    ``pool_memory_mb`` attributes (0.5 s and no limit when it has none).
    """
    if not items:
        return
    grace = grace_s if grace_s is not None else float(getattr(verifier, "pool_grace_s", 0.5))
    if memory_mb is None:
        memory_mb = getattr(verifier, "pool_memory_mb", None)
    with VerifierPool(
        verifier, workers=min(workers, len(items)), grace_s=grace, memory_mb=memory_mb
    ) as pool:
        yield from pool.run(items)


def default_workers() -> int:
    """Half the CPUs this process may use (at least 1): checks are CPU-bound."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, n // 2)
