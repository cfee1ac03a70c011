"""A rich progress bar for scoring: examples done, examples/s, tokens/s and ETA."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ScoringProgress:
    """Context manager wrapping :class:`rich.progress.Progress` with throughput fields."""

    def __init__(
        self, console: Console, total: int, description: str, enabled: bool = True
    ) -> None:
        self.total = total
        self.enabled = enabled and total > 0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not self.enabled,
        )
        self._task = self._progress.add_task(description, total=total, rate="")
        self._start = time.perf_counter()
        self.done = 0
        self.tokens = 0

    def __enter__(self) -> ScoringProgress:
        self._progress.__enter__()
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def advance(self, examples: int, tokens: int) -> None:
        self.done += examples
        self.tokens += tokens
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        rate = f"{self.done / elapsed:,.1f} ex/s"
        if self.tokens:  # scorers without a model (verifiers, baselines) count no tokens
            rate += f"  {self.tokens / elapsed:,.0f} tok/s"
        self._progress.update(self._task, advance=examples, rate=rate)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._start
