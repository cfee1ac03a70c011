"""Reading ProcessBench-style rows: a problem, its solution's steps, the first wrong step.

ProcessBench (Zheng et al., 2024) ships one JSONL file per subset (``gsm8k.jsonl``,
``math.jsonl``, ``olympiadbench.jsonl``, ``omnimath.jsonl``) with rows::

    {"id": "gsm8k-0", "generator": "...", "problem": "...", "steps": ["...", "..."],
     "final_answer_correct": false, "label": 1}

``label`` is the 0-based index of the earliest erroneous step, ``-1`` when every step is
correct. A row's subset is its ``subset`` field when it has one, else the split a hub source
was read from, else its file's name.

The runner scores one scalar per (prompt, response), so a solution of n steps becomes a group
of n candidates, its prefixes: candidate k (0-based) is steps 0..k joined by the separator the
PRM scorer splits on, with gold 1.0 while no step so far is wrong (k < label, or label = -1) and
0.0 from the first wrong step on. Under ``-O aggregation=last`` (or ``min``) a prefix's score
is then its last step's score, and the PRM scorer reads all of a solution's prefixes from one
forward pass. Every malformed row is an error naming its file and row: a benchmark whose rows
were silently dropped would report numbers on a different benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rmbench.data.model import ResponseGroups
from rmbench.data.readers import iter_records, source_stem
from rmbench.errors import DataError


@dataclass(frozen=True)
class Solution:
    """One ProcessBench row, checked."""

    id: str
    subset: str
    problem: str
    steps: tuple[str, ...]
    label: int
    generator: str | None
    source: str
    row: int


def _subset_of(source: str, record: dict[str, Any]) -> str:
    if isinstance(record.get("subset"), str) and record["subset"]:
        return str(record["subset"])
    if source.endswith("]") and "[" in source:  # hub id[split]: ProcessBench names splits so
        return source[source.rindex("[") + 1 : -1]
    return source_stem(source)


def parse_solution(source: str, row: int, record: Any, separator: str) -> Solution:
    """A checked :class:`Solution`, or a :class:`DataError` naming file, row and field."""
    where = f"{source} row {row} (0-based)"
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected an object, got {type(record).__name__}")
    for field in ("problem", "steps", "label"):
        if field not in record:
            raise DataError(f"{where}: no field {field!r} (a row needs problem, steps, label)")
    problem = record["problem"]
    if not isinstance(problem, str) or not problem.strip():
        raise DataError(f"{where}: field 'problem' must be a non-empty string")
    steps = record["steps"]
    if not isinstance(steps, list):
        raise DataError(
            f"{where}: field 'steps' must be a list of strings, got {type(steps).__name__}"
        )
    if not steps:
        raise DataError(f"{where}: field 'steps' is empty (a solution needs at least one step)")
    clean: list[str] = []
    for index, step in enumerate(steps):
        if not isinstance(step, str):
            raise DataError(f"{where}: steps[{index}] must be a string, got {type(step).__name__}")
        if not step.strip():
            raise DataError(f"{where}: steps[{index}] is blank")
        if separator in step.strip():
            raise DataError(
                f"{where}: steps[{index}] contains the step separator {separator!r}, so the "
                "scorer would read it as several steps; pick another with --suite-option "
                "separator=... (and the same -O step_separator for the scorer)"
            )
        clean.append(step.strip())
    label = record["label"]
    if isinstance(label, bool) or not isinstance(label, int):
        raise DataError(f"{where}: field 'label' must be an integer, got {label!r}")
    if not -1 <= label < len(steps):
        raise DataError(
            f"{where}: label {label} is out of range for {len(steps)} steps (the index of the "
            f"first wrong step, 0..{len(steps) - 1}, or -1 when all are correct)"
        )
    subset = _subset_of(source, record)
    raw_id = record.get("id")
    row_id = str(raw_id) if raw_id not in (None, "") else f"{subset}-{row}"
    generator = record.get("generator")
    return Solution(
        row_id,
        subset,
        problem,
        tuple(clean),
        label,
        str(generator) if generator is not None else None,
        source,
        row,
    )


def read_solutions(data: str, split: str | None, separator: str) -> Iterator[Solution]:
    """Every row of ``data`` (a file, a directory of files, a hub id), checked, ids unique."""
    seen: dict[str, str] = {}
    for source, row, record in iter_records(data, split=split):
        solution = parse_solution(source, row, record, separator)
        if solution.id in seen:
            raise DataError(
                f"{source} row {row} (0-based): duplicate id {solution.id!r} "
                f"(first at {seen[solution.id]})"
            )
        seen[solution.id] = f"{source} row {row}"
        yield solution


def prefix_groups(solutions: list[Solution], separator: str) -> ResponseGroups:
    """One group per solution; candidate k is steps 0..k, gold 1.0 until the first wrong step."""
    groups: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    for s in solutions:
        groups.append(
            {
                "group_id": s.id,
                "subset": s.subset,
                "prompt": [{"role": "user", "content": s.problem}],
                "gold_kind": "graded",
                "source": s.source,
                "source_row": s.row,
            }
        )
        for k in range(len(s.steps)):
            correct_so_far = s.label == -1 or k < s.label
            candidates.append(
                {
                    "group_id": s.id,
                    "candidate_index": k,
                    "response": separator.join(s.steps[: k + 1]),
                    "gold": 1.0 if correct_so_far else 0.0,
                    "model": s.generator,
                }
            )
    return ResponseGroups.from_records(groups, candidates)
