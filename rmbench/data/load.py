"""The one entry point from "a path or hub id" to scored-ready :class:`ResponseGroups`.

:func:`load_groups` streams records (:mod:`rmbench.data.readers`), normalises each with a row
format (:mod:`rmbench.data.formats`), gives it an id and provenance, and either keeps it or
records why not (:mod:`rmbench.data.contract`). Problems with a whole source (a missing file,
a column the format needs that the source does not have, an unknown format) are errors;
problems with single rows are rejections, reported and never scored.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from rmbench.data.contract import RejectionReport, RowRejected
from rmbench.data.formats import FORMATS, ParsedRow, RowFormat, detect_format, normalize_row, row_id
from rmbench.data.model import CANDIDATES_SCHEMA, GROUPS_SCHEMA, REFERENCE, ResponseGroups
from rmbench.data.readers import is_saved_dataset, iter_records, source_stem
from rmbench.errors import DataError, UsageError

log = logging.getLogger(__name__)

AUTO = "auto"


@dataclass(frozen=True)
class LoadResult:
    """What a load produced: the accepted groups, the rejected rows, and the format used."""

    groups: ResponseGroups
    rejections: RejectionReport
    format: str


class _FrameBuilder:
    """Column lists for the groups and candidates frames, turned into polars once at the end
    (row-by-row frame concatenation would be quadratic)."""

    def __init__(self) -> None:
        self.groups: dict[str, list[Any]] = {name: [] for name in GROUPS_SCHEMA}
        self.candidates: dict[str, list[Any]] = {name: [] for name in CANDIDATES_SCHEMA}
        self.references: list[str | None] = []

    def __len__(self) -> int:
        return len(self.groups["group_id"])

    def add(self, group_id: str, subset: str, parsed: ParsedRow, source: str, row: int) -> None:
        g = self.groups
        g["group_id"].append(group_id)
        g["subset"].append(subset)
        g["prompt"].append(parsed.prompt)
        g["gold_kind"].append(parsed.gold_kind)
        g["source"].append(source)
        g["source_row"].append(row)
        self.references.append(parsed.reference)
        c = self.candidates
        for index, candidate in enumerate(parsed.candidates):
            c["group_id"].append(group_id)
            c["candidate_index"].append(index)
            c["response"].append(candidate.response)
            c["gold"].append(candidate.gold)
            c["model"].append(candidate.model)

    def build(self) -> ResponseGroups:
        groups = pl.DataFrame(self.groups, schema=GROUPS_SCHEMA)
        if any(reference is not None for reference in self.references):
            # optional column: only sources whose mapping names a reference have one
            groups = groups.with_columns(pl.Series(REFERENCE, self.references, pl.String))
        return ResponseGroups(groups, pl.DataFrame(self.candidates, schema=CANDIDATES_SCHEMA))


def _resolve_format(name: str | RowFormat) -> RowFormat | None:
    """The RowFormat for ``name`` (None for ``auto``, decided on the first record); a
    RowFormat object (e.g. a column mapping built at run time) is used as is."""
    if isinstance(name, RowFormat):
        return name
    if name == AUTO:
        return None
    try:
        return FORMATS[name]
    except KeyError:
        raise UsageError(
            f"unknown data format {name!r}; known: {AUTO}, {', '.join(FORMATS)}"
        ) from None


def _detect(source: str, row: int, record: Any) -> RowFormat:
    name = detect_format(record)
    if name is None:
        keys = ", ".join(map(str, record)) if isinstance(record, dict) else type(record).__name__
        raise DataError(
            f"{source} row {row} (0-based): cannot tell the data format from its keys ({keys}); "
            f"pass a format: {', '.join(FORMATS)}"
        )
    log.info("%s: detected data format %r from row %d", source, name, row)
    return FORMATS[name]


def _check_columns(
    fmt: RowFormat, source: str, row: int, record: dict[str, Any], id_column: str | None
) -> None:
    """A column the format needs that the source's first record lacks is a whole-source error:
    one clear line, not a rejection for every row."""
    missing = fmt.missing_columns(record)
    if id_column is not None and id_column not in record:
        missing.append(id_column)
    if missing:
        raise DataError(
            f"{source}: no column {missing[0]!r}, which format {fmt.name!r} needs "
            f"(first record, row {row} 0-based, has: {', '.join(map(str, record)) or 'nothing'})"
        )


def _id_namer(root: str) -> Callable[[str], str]:
    """Default ids ``file:row``; inside a directory the file's path relative to it, so two
    ``train.jsonl`` in different folders do not collide."""
    root_path = Path(root)
    in_dir = root_path.is_dir() and not is_saved_dataset(root_path)

    names: dict[str, str] = {}

    def name(source: str) -> str:
        if source not in names:
            relative = None
            if in_dir:
                with contextlib.suppress(ValueError):
                    relative = Path(source).relative_to(root_path).as_posix()
            names[source] = relative or Path(source).name
        return names[source]

    return name


def load_groups(
    source: str | os.PathLike[str],
    *,
    format: str | RowFormat = AUTO,
    split: str | None = None,
    id_column: str | None = None,
    subset: str | None = None,
    limit: int | None = None,
    strict: bool = False,
) -> LoadResult:
    """Load any supported source into ResponseGroups, rejecting rows that break the contract.

    ``format``: a name in :data:`~rmbench.data.formats.FORMATS`, a :class:`RowFormat` (e.g. from
    :func:`rmbench.data.mapping.column_format`), or ``auto`` (detected from the
    first record; every later file must then have that format's columns). ``split``: for
    datasets sources. ``id_column``: the column holding each row's id (default: the format's
    own id field if present, else ``file:row``). ``subset``: subset name for rows without one
    (default: the file's stem). ``limit``: stop after this many accepted groups (rows past it
    are not read, so they appear in neither the groups nor the report). ``strict``: any
    rejected row raises DataError instead of being reported.
    """
    if limit is not None and limit < 0:
        raise UsageError(f"limit must be >= 0, got {limit}")
    fmt = _resolve_format(format)
    root = os.fspath(source)
    default_name = _id_namer(root)
    report = RejectionReport()
    frames = _FrameBuilder()
    seen_ids: set[str] = set()
    checked_sources: set[str] = set()

    for src, row, record in iter_records(root, split=split):
        if limit is not None and len(frames) >= limit:
            break
        if fmt is None:
            fmt = _detect(src, row, record)
        if src not in checked_sources and isinstance(record, dict):
            _check_columns(fmt, src, row, record, id_column)
            checked_sources.add(src)
        rid: str | None = None
        try:
            if isinstance(record, dict):
                rid = row_id(record, fmt, id_column)
            group_id = rid if rid is not None else f"{default_name(src)}:{row}"
            # an id counts as used even if its row is then rejected: a repeated id means the
            # source is ambiguous about which row it names, whichever of them is scoreable
            if group_id in seen_ids:
                raise RowRejected("duplicate_id", f"id {group_id!r} already used by an earlier row")
            seen_ids.add(group_id)
            parsed = normalize_row(record, fmt)
        except RowRejected as rejected:
            report.add(
                rejected.reason,
                source=src,
                row=row,
                row_id=rid,
                column=rejected.column,
                detail=rejected.detail,
            )
            continue
        frames.add(group_id, parsed.subset or subset or source_stem(src), parsed, src, row)

    if strict:
        report.raise_if_any()
    groups = frames.build()
    groups.validate()
    return LoadResult(groups, report, fmt.name if fmt is not None else AUTO)
