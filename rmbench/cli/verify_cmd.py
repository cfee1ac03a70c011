"""``rmbench verify``: turn a verifier's verdicts into the gold column of a table of responses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def verify(
    file: Annotated[Path, typer.Argument(help="Parquet, CSV or JSONL with one row per response.")],
    verifier: Annotated[
        str, typer.Option(help="Verifier: math, python-tests, or one a plugin registers.")
    ],
    out: Annotated[
        Path, typer.Option(help="Output table (.parquet, .csv or .jsonl): FILE plus gold columns.")
    ],
    response_col: Annotated[str, typer.Option(help="Column with the response.")] = "response",
    reference_col: Annotated[
        str, typer.Option(help="Column with the reference: gold answer or unit tests.")
    ] = "reference",
    gold_col: Annotated[
        str,
        typer.Option(help="Name of the gold column to write (plus NAME_status, NAME_reason)."),
    ] = "gold",
    timeout: Annotated[float, typer.Option(help="Seconds allowed per check.")] = 10.0,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: half the CPUs).")
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(help="Verdicts committed to OUT.partial/ at a time (for resuming).")
    ] = 256,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Check every response against its reference and write the verdicts as a gold column.

    Gold is 1.0/0.0 for math (0 to 1 for python-tests: the fraction of tests passed), with
    NAME_status (passed, failed, timeout, memory, crashed, error) and NAME_reason. Feed the
    result to `rmbench metrics --gold-col NAME`. Interrupted runs resume: rerun the same
    command and verdicts already committed are kept.
    """
    from rmbench.errors import UsageError
    from rmbench.metrics.grouping import read_table
    from rmbench.plugins import get_verifier
    from rmbench.run.progress import ScoringProgress
    from rmbench.verifiers.gold import verify_table
    from rmbench.verifiers.pool import default_workers

    if not timeout > 0:
        raise UsageError(f"option --timeout: expected a positive number of seconds, got {timeout}")
    if workers is not None and workers < 1:
        raise UsageError("option --workers must be >= 1")
    checker = get_verifier(verifier)
    frame = read_table(file)
    console = Console(stderr=True, highlight=False)
    with ScoringProgress(console, frame.height, f"verifying with {verifier}", True) as bar:
        outcome = verify_table(
            file,
            frame,
            checker,
            response_col=response_col,
            reference_col=reference_col,
            out=out,
            gold_col=gold_col,
            timeout_s=timeout,
            workers=workers or default_workers(),
            chunk_size=chunk_size,
            overwrite=overwrite,
            on_progress=lambda n: bar.advance(n, 0),
        )
    counts = ", ".join(f"{status} {n}" for status, n in sorted(outcome.statuses.items()))
    typer.echo(
        f"{out}: {outcome.rows} rows ({outcome.unique} distinct), checked now "
        f"{outcome.checked_now}, kept from an earlier run {outcome.from_partial}; {counts}"
    )


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
