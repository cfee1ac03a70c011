"""`rmbench plugins`, `rmbench scorers`, `rmbench suites`: what is installed, what is broken.

These commands exist to diagnose, so they exit 0 even when a plugin is broken; broken plugins
are marked in red (and their tracebacks are one ``--traceback`` away). ``--json`` prints the
same information for machines, on stdout only; hints for humans go to stderr.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rmbench.plugins import PluginInfo, Registry, get_registry

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (a list of objects) instead of a table.")
]


def _console(stderr: bool = False) -> Console:
    # Created per call, not at import: the console binds sys.stdout, which tests swap out.
    return Console(stderr=stderr, highlight=False)


def _print_json(rows: list[dict[str, Any]]) -> None:
    typer.echo(json.dumps(rows, indent=2))


def _hint_broken(registry: Registry) -> None:
    """Tell a human why a listing may be missing something, without polluting stdout."""
    broken = registry.broken_plugins
    if broken:
        names = ", ".join(info.name for info in broken)
        plugins = "plugin" if len(broken) == 1 else "plugins"
        _console(stderr=True).print(
            Text(
                f"note: {len(broken)} {plugins} failed ({names}); run `rmbench plugins` for details",
                style="yellow",
            )
        )


def _provides(info: PluginInfo) -> Text:
    lines = [
        f"{label}: {', '.join(names)}"
        for label, names in (
            ("scorers", info.scorers),
            ("suites", info.suites),
            ("commands", info.commands),
            ("verifiers", info.verifiers),
        )
        if names
    ]
    return Text("\n".join(lines) or "-")


def plugins_command(
    json_output: JsonOption = False,
    show_traceback: Annotated[
        bool,
        typer.Option("--traceback", help="Also print the full traceback of each plugin failure."),
    ] = False,
) -> None:
    """List installed plugins (built-ins included), what each one registers, and which are broken.

    A broken plugin (its import or one of its hooks raised, or it registered something invalid
    or a name already taken) is shown with its error; the other plugins keep working.
    """
    registry = get_registry()
    if json_output:
        _print_json([info.as_dict() for info in registry.plugins])
        return
    console = _console()
    table = Table("Plugin", "Distribution", "Registers")
    table.add_column("Status", overflow="fold")  # an error is the point here: never cut it short
    for info in registry.plugins:
        dist = (
            f"{info.distribution} {info.version or ''}".strip()
            if info.distribution
            else "(registered in code)"
        )
        status = (
            Text(f"error: {info.error}", style="red") if info.error else Text("ok", style="green")
        )
        table.add_row(Text(info.name, style="bold"), Text(dist), _provides(info), status)
    console.print(table)
    broken = registry.broken_plugins
    if broken:
        console.print(
            Text(
                f"{len(broken)} of {len(registry.plugins)} plugins have errors; what they failed to register is unavailable."
                + ("" if show_traceback else " Use --traceback for details."),
                style="red",
            )
        )
    if show_traceback:
        for info in broken:
            for failure in info.failures:
                console.rule(Text(f"{info.name} ({failure.stage})", style="red"))
                console.print(Text(failure.traceback or failure.message))


def scorers_command(json_output: JsonOption = False) -> None:
    """List the scorers you can pass to --scorer, with the plugin that provides each one."""
    registry = get_registry()
    rows = [
        {"name": name, "plugin": entry.plugin, "description": entry.factory.description}
        for name, entry in sorted(registry.scorers.items())
    ]
    if json_output:
        _print_json(rows)
    elif not rows:
        _console().print("no scorers registered")
    else:
        table = Table("Scorer", "Plugin", "Description")
        for row in rows:
            table.add_row(
                Text(row["name"], style="bold"), Text(row["plugin"]), Text(row["description"])
            )
        _console().print(table)
    _hint_broken(registry)


def suites_command(json_output: JsonOption = False) -> None:
    """List the benchmark suites you can run: size, default data source, sections, plugin."""
    registry = get_registry()
    rows = []
    for name, entry in sorted(registry.suites.items()):
        row = {
            "name": name,
            "plugin": entry.plugin,
            "description": entry.suite.description,
            "default_source": entry.suite.default_source,
        }
        # Optional attributes (rmbench's own suites have them): listed only when a suite has them.
        for key in ("size", "sections"):
            value = getattr(entry.suite, key, None)
            if value:
                row[key] = list(value) if key == "sections" else value
        rows.append(row)
    if json_output:
        _print_json(rows)
    elif not rows:
        _console().print("no suites registered")
    else:
        table = Table()
        table.add_column("Suite", no_wrap=True)
        for header in ("Plugin", "Description", "Size", "Default source", "Sections"):
            table.add_column(header)
        for row in rows:
            table.add_row(
                Text(row["name"], style="bold"),
                Text(row["plugin"]),
                Text(row["description"]),
                Text(row.get("size") or "-"),
                Text(row["default_source"] or "-"),
                Text(", ".join(row.get("sections", ())) or "-"),
            )
        _console().print(table)
    _hint_broken(registry)


def register(app: typer.Typer) -> None:
    """Add ``plugins``, ``scorers`` and ``suites`` to ``app``."""
    app.command("plugins")(plugins_command)
    app.command("scorers")(scorers_command)
    app.command("suites")(suites_command)
