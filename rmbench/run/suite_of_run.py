"""The suite a finished run was scored by, rebuilt from its manifest.

Recomputing a run's numbers after the fact (``rmbench run --compare``, ``rmbench gate``) must
use the rules the run used. A suite defined by a file (a built-in definition, ``--suite
FILE.toml`` or ``--suite custom`` with its column mapping) is therefore recorded in the
manifest as the parsed definition (:func:`definition_record`) and rebuilt from that record —
the run stays readable when the file moves or changes, and a run from a file that was never
registered by name can still be compared. A suite without a record (RewardBench 1, a plugin's
Python suite) is looked up by name in the registry and, if it has a ``configure(extra)``
method, given the ``--suite-option`` values the run recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rmbench.errors import RmbenchError, UsageError
from rmbench.run.load import FinishedRun
from rmbench.suites.base import Suite
from rmbench.suites.custom import ORIGIN, definition_document
from rmbench.suites.declarative import DeclarativeSuite
from rmbench.suites.definition import SuiteDefinition, parse_definition

MANIFEST_KEY = "suite_definition"


def definition_record(suite: object) -> dict[str, Any] | None:
    """What the manifest records about a suite defined by a file (None for Python suites)."""
    definition = getattr(suite, "definition", None)
    if not isinstance(definition, SuiteDefinition):
        return None
    return {"path": str(definition.path), "document": dict(definition.document)}


def suite_for_run(run: FinishedRun) -> Suite:
    """The suite ``run`` was scored by; a UsageError naming the run when it cannot be had."""
    record = run.manifest.get(MANIFEST_KEY)
    if isinstance(record, dict) and isinstance(record.get("document"), dict):
        try:
            definition = parse_definition(Path(str(record.get("path"))), record["document"])
        except RmbenchError as error:
            raise UsageError(
                f"{run.path / 'manifest.json'}: {MANIFEST_KEY} does not parse ({error})"
            ) from None
        return DeclarativeSuite(definition)  # type: ignore[return-value]
    if run.suite == "custom":  # a run from before definitions were recorded
        extra = run.manifest.get("dataset", {}).get("options", {}).get("extra") or {}
        return DeclarativeSuite(parse_definition(ORIGIN, definition_document(extra)))  # type: ignore[return-value]
    from rmbench.plugins import get_suite

    try:
        suite = get_suite(run.suite)
    except RmbenchError as error:
        raise UsageError(f"run {run.path}: cannot find its suite {run.suite!r} ({error})") from None
    # A Python suite with options (e.g. processbench's threshold) scores as the run did only
    # with the options the run was given, which its manifest recorded.
    configure = getattr(suite, "configure", None)
    if callable(configure):
        extra = run.manifest.get("dataset", {}).get("options", {}).get("extra") or {}
        try:
            configure({str(k): str(v) for k, v in extra.items()})
        except RmbenchError as error:
            raise UsageError(f"run {run.path}: its suite options do not apply ({error})") from None
    return suite
