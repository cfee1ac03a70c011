"""A crash-safe score cache: every scored batch is committed before the next one starts.

SQLite in WAL mode with ``synchronous=FULL`` gives atomic, durable commits: a ``kill -9`` (or
a power cut) mid-run loses at most the batch in flight, and a rerun asks the scorer only for
what is not in the cache. One cache belongs to one run directory, whose manifest pins the
scorer identity, so keys only need to identify the scored content.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    key   TEXT PRIMARY KEY,
    score REAL NOT NULL
) WITHOUT ROWID;
"""


def candidate_key(
    prompt: Sequence[dict[str, str]],
    response: str,
    group: str | None = None,
    reference: str | None = None,
) -> str:
    """Content key of one (context, response) input: equal inputs share one cached score.

    ``group`` joins the key only for scorers that compare a response with the rest of its group
    (see ``Scorer.compares_within_group``), ``reference`` only for scorers that check against
    it (``Scorer.needs_reference``); other keys are unchanged by them.
    """
    content: dict[str, object] = {
        "prompt": [[m["role"], m["content"]] for m in prompt],
        "response": response,
    }
    if group is not None:
        content["group"] = group
    if reference is not None:
        content["reference"] = reference
    payload = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


class ScoreCache:
    """Maps candidate keys to scores in ``path`` (created on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def __enter__(self) -> ScoreCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    def get_many(self, keys: Iterable[str]) -> dict[str, float]:
        """Scores for whichever of ``keys`` are cached."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, float] = {}
        chunk = 900  # stay under SQLite's host-parameter limit
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            placeholders = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT key, score FROM scores WHERE key IN ({placeholders})", part
            )
            found.update(rows.fetchall())
        return found

    def put_many(self, keys: Sequence[str], scores: np.ndarray) -> None:
        """Store one batch atomically (all or nothing) and durably."""
        if len(keys) != len(scores):
            raise ValueError("keys and scores differ in length")
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO scores(key, score) VALUES (?, ?)",
                zip(keys, (float(s) for s in scores), strict=True),
            )
