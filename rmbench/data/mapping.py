"""Row formats built at run time from a column mapping: the user's own data, no Python needed.

A custom suite says which of its source's columns play which *role* (``prompt``, ``chosen``,
``rejected`` for pairs; ``responses`` and ``gold`` for multi-response sets), on the command line
(``--suite-option chosen=good``) or in a suite definition file (``[data.columns]``).
:func:`column_format` turns that mapping into an ordinary :class:`~rmbench.data.formats.RowFormat`,
so the loader, the pair contract and the rejection report work exactly as for built-in formats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rmbench.data.contract import RowRejected
from rmbench.data.formats import (
    Candidate,
    ParsedRow,
    RowFormat,
    optional_str,
    require,
    require_str,
    to_messages,
)
from rmbench.errors import UsageError

#: Roles a mapping may name, and what each one holds.
ROLES: dict[str, str] = {
    "prompt": "the context: text, or a list of {role, content} messages",
    "chosen": "the preferred response (pairs)",
    "rejected": "the other response (pairs)",
    "responses": "a list of candidate responses (multi-response sets)",
    "gold": "a list of numeric gold scores, one per response (multi-response sets)",
    "id": "the row's id (optional)",
    "subset": "the row's subset (optional)",
    "reference": "what a verifier checks responses against: gold answer or unit tests (optional)",
}
PAIR_ROLES = ("prompt", "chosen", "rejected")
MULTI_ROLES = ("prompt", "responses", "gold")
MULTI_GOLD_KINDS = ("graded", "best_of_n")


def _gold_value(value: Any, column: str, index: int, gold_kind: str) -> float:
    where = f"{column}[{index}]"
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise RowRejected("malformed", f"{where} must be a finite number, got {value!r}", column)
    if gold_kind == "best_of_n" and value not in (0.0, 1.0):
        raise RowRejected("malformed", f"{where} must be 0 or 1 for best-of-N, got {value}", column)
    return float(value)


def column_format(
    mapping: Mapping[str, str], *, gold_kind: str = "graded", origin: str = "column mapping"
) -> RowFormat:
    """A RowFormat reading the roles in ``mapping`` (role -> source column).

    Pairs need ``prompt``, ``chosen``, ``rejected``; multi-response sets ``prompt``,
    ``responses`` and ``gold`` (numeric grades for ``gold_kind="graded"``, 0/1 for
    ``"best_of_n"``). ``origin`` names where the mapping came from (e.g. ``my.toml
    [data.columns]``), so a column the data lacks is reported against it.
    """
    unknown = sorted(set(mapping) - set(ROLES))
    if unknown:
        raise UsageError(f"{origin}: unknown role {unknown[0]!r}; roles: {', '.join(ROLES)}")
    pair = any(role in mapping for role in ("chosen", "rejected"))
    multi = any(role in mapping for role in ("responses", "gold"))
    if pair and multi:
        raise UsageError(f"{origin}: map either chosen/rejected or responses/gold, not both")
    needed = PAIR_ROLES if pair or not multi else MULTI_ROLES
    missing = [role for role in needed if role not in mapping]
    if missing:
        raise UsageError(f"{origin}: no column mapped to role {missing[0]!r}")
    if not pair and gold_kind not in MULTI_GOLD_KINDS:
        raise UsageError(
            f"{origin}: gold_kind must be one of {', '.join(MULTI_GOLD_KINDS)}, got {gold_kind!r}"
        )
    col = dict(mapping)

    def subset_of(record: Mapping[str, Any]) -> str | None:
        return optional_str(record, col["subset"]) if "subset" in col else None

    def reference_of(record: Mapping[str, Any]) -> str | None:
        if "reference" not in col:
            return None
        value = require(record, col["reference"])
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # a numeric gold answer (42, 0.5) read from JSON
        if not isinstance(value, str):
            raise RowRejected("malformed", f"{col['reference']} must be text", col["reference"])
        return value

    def parse_pair(record: Mapping[str, Any]) -> ParsedRow:
        prompt = to_messages(require(record, col["prompt"]), col["prompt"])
        chosen = require_str(record, col["chosen"])
        rejected = require_str(record, col["rejected"])
        return ParsedRow(
            prompt,
            (
                Candidate(chosen, 1.0, None, col["chosen"]),
                Candidate(rejected, 0.0, None, col["rejected"]),
            ),
            "pairwise",
            subset_of(record),
            reference_of(record),
        )

    def parse_multi(record: Mapping[str, Any]) -> ParsedRow:
        prompt = to_messages(require(record, col["prompt"]), col["prompt"])
        responses = require(record, col["responses"])
        golds = require(record, col["gold"])
        for value, column in ((responses, col["responses"]), (golds, col["gold"])):
            if isinstance(value, str | Mapping) or not isinstance(value, Sequence):
                raise RowRejected("malformed", f"{column} must be a list", column)
        if len(responses) != len(golds):
            raise RowRejected(
                "malformed",
                f"{col['responses']} has {len(responses)} items but {col['gold']} has {len(golds)}",
                col["gold"],
            )
        candidates = []
        for i, (text, gold) in enumerate(zip(responses, golds, strict=True)):
            column = f"{col['responses']}[{i}]"
            if text is None:
                raise RowRejected("missing_value", f"{column} is null", col["responses"])
            if not isinstance(text, str):
                raise RowRejected("malformed", f"{column} must be text", col["responses"])
            candidates.append(
                Candidate(text, _gold_value(gold, col["gold"], i, gold_kind), None, column)
            )
        return ParsedRow(
            prompt, tuple(candidates), gold_kind, subset_of(record), reference_of(record)
        )

    required = tuple(col[role] for role in (*needed, "reference") if role in col)
    return RowFormat(
        name=origin,
        description="columns mapped by the user: "
        + ", ".join(f"{role}={column}" for role, column in col.items()),
        required=required,
        parse=parse_pair if pair or not multi else parse_multi,
        id_column=col.get("id"),
        id_required="id" in col,
    )
