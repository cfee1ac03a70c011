"""Verifier verdicts as the gold signal of a table of responses (``rmbench verify``).

Each row's response is checked against its reference; the table is written back with three
more columns: ``GOLD`` (the verdict's score: 1.0/0.0 for ``math``, the fraction of tests
passed for ``python-tests``), ``GOLD_status`` and ``GOLD_reason``. ``rmbench metrics
--gold-col GOLD`` then measures a reward model's best-of-N choices against correctness.

Resumable: verdicts are committed to ``OUT.partial/`` one chunk file at a time (written to a
temporary name, then renamed, so a crash never leaves half a chunk), keyed by the content of
(response, reference). A rerun after a crash loads them and checks only what is missing; the
partial directory is removed once the output is written. Equal (response, reference) pairs
are checked once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from rmbench.errors import DataError, UsageError
from rmbench.verifiers.base import Verifier, VerifyItem
from rmbench.verifiers.pool import run_checks
from rmbench.verifiers.scorer import verifier_identity

OUTPUT_SUFFIXES = (".parquet", ".csv", ".jsonl", ".ndjson")
_CHUNK_SCHEMA = {"key": pl.String, "score": pl.Float64, "status": pl.String, "reason": pl.String}


@dataclass(frozen=True)
class GoldOutcome:
    rows: int
    unique: int
    checked_now: int
    from_partial: int
    statuses: dict[str, int]


def pair_key(response: str, reference: str) -> str:
    payload = json.dumps([response, reference], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _text_column(frame: pl.DataFrame, column: str, source: Path, option: str) -> list[str]:
    """``column`` as strings (numbers are converted: a gold answer may be stored as 42)."""
    if column not in frame.columns:
        raise DataError(
            f"{source}: no column {column!r} (option {option}); it has: {', '.join(frame.columns)}"
        )
    series = frame[column]
    if series.dtype != pl.String:
        if not (series.dtype.is_numeric() or series.dtype == pl.Null):
            raise DataError(f"{source}: column {column!r} must hold text, not {series.dtype}")
        series = series.cast(pl.String)
    nulls = series.is_null()
    if nulls.any():
        row = int(nulls.arg_true()[0])
        raise DataError(f"{source} row {row} (0-based): column {column!r} is null")
    return series.to_list()


class _Partial:
    """The chunk files of verdicts already made for one output, and what made them."""

    def __init__(self, out: Path, identity: dict[str, Any]) -> None:
        self.dir = out.with_name(out.name + ".partial")
        meta_path = self.dir / "meta.json"
        if meta_path.exists():
            recorded = json.loads(meta_path.read_text())
            if recorded != identity:
                raise UsageError(
                    f"{self.dir} holds verdicts made with different settings ({recorded}); "
                    "rerun with the same --verifier and --timeout, or delete it to start over"
                )
        else:
            self.dir.mkdir(parents=True, exist_ok=True)
            meta_path.write_text(json.dumps(identity, indent=2))
        chunks = sorted(self.dir.glob("chunk-*.parquet"))
        self.n_chunks = len(chunks)
        self.done: dict[str, tuple[float, str, str]] = {}
        for chunk in chunks:
            for key, score, status, reason in pl.read_parquet(chunk).iter_rows():
                self.done[key] = (score, status, reason)

    def commit(self, rows: list[tuple[str, float, str, str]]) -> None:
        if not rows:
            return
        path = self.dir / f"chunk-{self.n_chunks:06d}.parquet"
        tmp = path.with_suffix(".tmp")
        pl.DataFrame(rows, schema=_CHUNK_SCHEMA, orient="row").write_parquet(tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        tmp.rename(path)
        self.n_chunks += 1
        for key, score, status, reason in rows:
            self.done[key] = (score, status, reason)


def _write(frame: pl.DataFrame, out: Path) -> None:
    tmp = out.with_name(out.name + ".tmp")
    if out.suffix == ".parquet":
        frame.write_parquet(tmp)
    elif out.suffix == ".csv":
        frame.write_csv(tmp)
    else:
        frame.write_ndjson(tmp)
    tmp.replace(out)


def verify_table(
    source: Path,
    frame: pl.DataFrame,
    verifier: Verifier,
    *,
    response_col: str,
    reference_col: str,
    out: Path,
    gold_col: str = "gold",
    timeout_s: float = 10.0,
    workers: int = 2,
    chunk_size: int = 256,
    overwrite: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> GoldOutcome:
    """Verify every row of ``frame`` (read from ``source``) and write it with gold columns."""
    if out.suffix not in OUTPUT_SUFFIXES:
        raise UsageError(f"option --out: {out} must end in {', '.join(OUTPUT_SUFFIXES)}")
    if out.exists() and not overwrite:
        raise UsageError(f"option --out: {out} exists; pass --overwrite to replace it")
    if chunk_size < 1:
        raise UsageError("option --chunk-size must be >= 1")
    added = (gold_col, f"{gold_col}_status", f"{gold_col}_reason")
    clash = next((c for c in added if c in frame.columns), None)
    if clash is not None:
        raise DataError(f"{source}: already has a column {clash!r}; choose another --gold-col")
    responses = _text_column(frame, response_col, source, "--response-col")
    references = _text_column(frame, reference_col, source, "--reference-col")
    keys = [pair_key(r, g) for r, g in zip(responses, references, strict=True)]
    empty = next((i for i, g in enumerate(references) if not g.strip()), None)
    if empty is not None:
        raise DataError(f"{source} row {empty} (0-based): column {reference_col!r} is empty")

    partial = _Partial(out, verifier_identity(verifier, timeout_s))
    from_partial = len(set(keys) & set(partial.done))
    todo: dict[str, VerifyItem] = {}
    for key, response, reference in zip(keys, responses, references, strict=True):
        if key not in partial.done and key not in todo:
            todo[key] = VerifyItem(response, reference, timeout_s)
    todo_keys = list(todo)
    pending: list[tuple[str, float, str, str]] = []
    for index, verdict in run_checks(verifier, list(todo.values()), workers=workers):
        pending.append((todo_keys[index], verdict.score, verdict.status, verdict.reason))
        if len(pending) >= chunk_size:
            partial.commit(pending)
            pending = []
        if on_progress is not None:
            on_progress(1)
    partial.commit(pending)

    verdicts = [partial.done[key] for key in keys]
    result = frame.with_columns(
        pl.Series(added[0], [v[0] for v in verdicts], pl.Float64),
        pl.Series(added[1], [v[1] for v in verdicts], pl.String),
        pl.Series(added[2], [v[2] for v in verdicts], pl.String),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    _write(result, out)
    shutil.rmtree(partial.dir)
    return GoldOutcome(
        rows=len(keys),
        unique=len(set(keys)),
        checked_now=len(todo),
        from_partial=from_partial,
        statuses=dict(Counter(v[1] for v in verdicts)),
    )
