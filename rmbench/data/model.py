"""The one data model every suite is expressed in: groups of candidate responses to a prompt.

A *group* is one prompt (a list of chat messages) with N >= 2 candidate responses and a gold
signal over them:

* ``pairwise``: N = 2, candidate 0 is the chosen response (gold 1.0), candidate 1 the
  rejected one (gold 0.0);
* ``best_of_n``: gold 1.0 marks a correct/best response, 0.0 an incorrect one;
* ``graded``: gold holds a numeric grade per response (e.g. a Likert rating).

Python keeps two polars frames (``groups`` and ``candidates``); the Rust metrics core sees the
same data as flat arrays: ``scores``/``gold`` of length ``n_candidates`` and ``offsets`` of length
``n_groups + 1`` such that group ``g`` owns candidates ``offsets[g]:offsets[g + 1]``. Candidates
are therefore stored contiguously, in group order, with ``candidate_index`` running 0..N-1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

GoldKind = Literal["pairwise", "best_of_n", "graded"]
GOLD_KINDS: tuple[str, ...] = ("pairwise", "best_of_n", "graded")

MESSAGE_DTYPE = pl.Struct({"role": pl.String, "content": pl.String})

GROUPS_SCHEMA: dict[str, pl.DataType] = {
    "group_id": pl.String(),  # unique within a data set; the benchmark's own id where it has one
    "subset": pl.String(),  # finest category the benchmark reports (RewardBench subset, RMB path)
    "prompt": pl.List(MESSAGE_DTYPE),  # the context shared by every candidate
    "gold_kind": pl.String(),  # one of GOLD_KINDS
    "source": pl.String(),  # provenance: file path or hub id (+ split) the row came from
    "source_row": pl.Int64(),  # 0-based row (JSONL line, list index, table row) in that source
}

CANDIDATES_SCHEMA: dict[str, pl.DataType] = {
    "group_id": pl.String(),
    "candidate_index": pl.Int32(),  # 0..N-1 within its group
    "response": pl.String(),  # the assistant's reply being scored
    "gold": pl.Float64(),
    "model": pl.String(),  # generator of the response when known (provenance), else null
}

#: Optional column of the groups frame: what a verifier checks the group's responses against
#: (a gold answer, unit tests). Present only when the source maps a ``reference`` column.
REFERENCE = "reference"

Message = dict[str, str]


@dataclass(frozen=True)
class ResponseGroups:
    """Prompts with N >= 2 candidate responses each and a gold signal; see module docstring."""

    groups: pl.DataFrame
    candidates: pl.DataFrame

    def __post_init__(self) -> None:
        for frame, schema, name in (
            (self.groups, GROUPS_SCHEMA, "groups"),
            (self.candidates, CANDIDATES_SCHEMA, "candidates"),
        ):
            missing = [c for c in schema if c not in frame.columns]
            if missing:
                raise ValueError(f"{name} frame lacks columns {missing}")

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_records(cls, groups: Iterable[dict], candidates: Iterable[dict]) -> ResponseGroups:
        """Build from plain dicts (one per group and one per candidate, in group order)."""
        g = pl.DataFrame(list(groups), schema=GROUPS_SCHEMA, orient="row")
        c = pl.DataFrame(list(candidates), schema=CANDIDATES_SCHEMA, orient="row")
        return cls(g, c)

    @classmethod
    def empty(cls) -> ResponseGroups:
        return cls(pl.DataFrame(schema=GROUPS_SCHEMA), pl.DataFrame(schema=CANDIDATES_SCHEMA))

    @classmethod
    def concat(cls, parts: Sequence[ResponseGroups]) -> ResponseGroups:
        if not parts:
            return cls.empty()
        return cls(
            pl.concat([p.groups for p in parts], how="vertical"),
            pl.concat([p.candidates for p in parts], how="vertical"),
        )

    # -- shape ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.groups.height

    @property
    def n_candidates(self) -> int:
        return self.candidates.height

    def group_sizes(self) -> np.ndarray:
        """Candidates per group, in group order."""
        sizes = self.candidates.group_by("group_id", maintain_order=True).len()
        by_id = dict(zip(sizes["group_id"].to_list(), sizes["len"].to_list(), strict=True))
        return np.array([by_id.get(g, 0) for g in self.groups["group_id"].to_list()], np.int64)

    def offsets(self) -> np.ndarray:
        """int64 offsets of length n_groups + 1 into the candidate arrays."""
        offsets = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(self.group_sizes(), out=offsets[1:])
        return offsets

    def gold(self) -> np.ndarray:
        return self.candidates["gold"].to_numpy().astype(np.float64, copy=False)

    def validate(self) -> None:
        """Check the invariants the metrics core relies on; raise ValueError naming the group."""
        ids = self.groups["group_id"]
        if ids.null_count():
            raise ValueError("a group has a null group_id")
        dup = ids.filter(ids.is_duplicated())
        if dup.len():
            raise ValueError(f"duplicate group_id {dup[0]!r}")
        bad_kind = self.groups.filter(~pl.col("gold_kind").is_in(GOLD_KINDS))
        if bad_kind.height:
            raise ValueError(
                f"group {bad_kind['group_id'][0]!r}: unknown gold_kind {bad_kind['gold_kind'][0]!r}"
            )
        cand_ids = self.candidates["group_id"]
        # candidates must be contiguous and in group order
        runs = cand_ids.rle()
        run_ids = runs.struct.field("value").to_list()
        if run_ids != ids.to_list():
            raise ValueError("candidates are not stored contiguously in group order")
        sizes = runs.struct.field("len").to_numpy()
        small = np.flatnonzero(sizes < 2)
        if small.size:
            raise ValueError(f"group {run_ids[small[0]]!r} has fewer than 2 candidates")
        expected = np.concatenate([np.arange(n) for n in sizes]) if len(sizes) else np.array([])
        if not np.array_equal(self.candidates["candidate_index"].to_numpy(), expected):
            raise ValueError("candidate_index must run 0..N-1 within each group")

    # -- selection ------------------------------------------------------------------------
    def filter_groups(self, keep: pl.Expr | pl.Series) -> ResponseGroups:
        """Keep the groups matching ``keep`` (evaluated on the groups frame) and their candidates."""
        groups = self.groups.filter(keep)
        candidates = self.candidates.filter(pl.col("group_id").is_in(groups["group_id"].implode()))
        return ResponseGroups(groups, candidates)

    def subsets(self) -> list[str]:
        return self.groups["subset"].unique(maintain_order=True).to_list()

    # -- identity -------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """sha256 over the content that determines a score: prompts, responses, gold, subsets.

        Independent of file format and provenance, so the same benchmark read from JSONL or
        Parquet has the same fingerprint.
        """
        h = hashlib.sha256()
        group_cols = ["group_id", "subset", "prompt", "gold_kind"]
        if REFERENCE in self.groups.columns:  # data without references keeps its fingerprint
            group_cols.append(REFERENCE)
        for frame, cols in (
            (self.groups, group_cols),
            (self.candidates, ["group_id", "candidate_index", "response", "gold"]),
        ):
            for row in frame.select(cols).iter_rows():
                h.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
                h.update(b"\n")
        return h.hexdigest()
