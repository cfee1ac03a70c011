"""The ``rmbench`` command line: a Typer app whose sub-commands live in sibling modules.

Errors a user can cause are :class:`rmbench.errors.RmbenchError`; :func:`main` prints them as
one line on stderr and exits with their code (2 for usage errors), never with a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.text import Text

from rmbench.errors import RmbenchError

APP_HELP = "How far can you trust a reward model? Benchmarks, metrics with CIs, and release gates."

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
_app: typer.Typer | None = None


def create_app() -> typer.Typer:
    """A new app with the built-in commands and those plugins add via ``register_commands``."""
    from rmbench.cli import (
        gate_cmd,
        metrics_cmd,
        plugins_cmd,
        regret_cmd,
        run_cmd,
        train_cmd,
        verify_cmd,
    )
    from rmbench.plugins import register_plugin_commands

    app = typer.Typer(
        name="rmbench",
        help=APP_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    plugins_cmd.register(app)
    run_cmd.register(app)
    metrics_cmd.register(app)
    gate_cmd.register(app)
    regret_cmd.register(app)
    train_cmd.register(app)
    verify_cmd.register(app)
    register_plugin_commands(app)
    return app


def build_app() -> typer.Typer:
    """The process-wide app (built once)."""
    global _app
    if _app is None:
        _app = create_app()
    return _app


def main(argv: list[str] | None = None) -> None:
    try:
        build_app()(args=argv, prog_name="rmbench", standalone_mode=True)
    except RmbenchError as error:
        err_console.print(Text.assemble(("error: ", "bold red"), str(error)))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        err_console.print(
            "interrupted: scored batches are cached; rerun the same command to resume"
        )
        sys.exit(130)
