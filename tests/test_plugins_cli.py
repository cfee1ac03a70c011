"""``rmbench plugins`` / ``scorers`` / ``suites``, and commands that plugins add to the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from plugin_helpers import GOOD_PLUGIN, PluginSandbox, make_app
from typer.testing import CliRunner, Result

BROKEN_IMPORT = "raise ImportError('needs libfoo >= 2')\n"
BROKEN_COMMANDS = """
from rmbench import hookimpl

@hookimpl
def register_commands(cli):
    raise RuntimeError("cannot add commands")
"""


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[PluginSandbox]:
    box = PluginSandbox(tmp_path, monkeypatch)
    yield box
    box.close()


def invoke(*args: str) -> Result:
    """Run the CLI on a wide terminal, so table cells are not wrapped mid-word."""
    return CliRunner().invoke(make_app(), list(args), env={"COLUMNS": "250"})


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows}


def test_plugins_table_marks_broken_plugins_and_exits_zero(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_good", GOOD_PLUGIN, dist="rmbench-toy", version="2.3.1")
    sandbox.add("toy_broken", BROKEN_IMPORT, dist="rmbench-broken", version="0.1")

    result = invoke("plugins")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    [good] = [line for line in lines if "toy_good" in line]
    assert "rmbench-toy 2.3.1" in good and "scorers: toy-length" in good and "ok" in good
    assert any("suites: toy-suite" in line for line in lines)
    assert any("commands: toy-hello" in line for line in lines)
    [broken] = [line for line in lines if "toy_broken" in line]
    assert "rmbench-broken 0.1" in broken
    assert "error: import: ImportError: needs libfoo >= 2" in broken
    assert "plugins have errors" in result.stdout and "--traceback" in result.stdout


def test_plugins_json_lists_every_plugin(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_good", GOOD_PLUGIN, dist="rmbench-toy", version="2.3.1")
    sandbox.add("toy_broken", BROKEN_IMPORT, dist="rmbench-broken", version="0.1")

    result = invoke("plugins", "--json")

    assert result.exit_code == 0, result.output
    rows = by_name(json.loads(result.stdout))
    assert rows["toy_good"] == {
        "name": "toy_good",
        "distribution": "rmbench-toy",
        "version": "2.3.1",
        "builtin": False,
        "scorers": ["toy-length"],
        "suites": ["toy-suite"],
        "commands": ["toy-hello"],
        "verifiers": [],
        "status": "ok",
        "error": None,
    }
    assert rows["toy_broken"]["status"] == "error"
    assert rows["toy_broken"]["error"] == "import: ImportError: needs libfoo >= 2"


def test_plugins_traceback_shows_where_the_plugin_failed(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_broken", BROKEN_IMPORT)

    result = invoke("plugins", "--traceback")

    assert result.exit_code == 0, result.output
    assert "toy_broken (import)" in result.stdout
    assert "Traceback (most recent call last)" in result.stdout
    assert "toy_broken.py" in result.stdout


def test_builtin_plugins_are_listed(sandbox: PluginSandbox) -> None:
    rows = by_name(json.loads(invoke("plugins", "--json").stdout))

    for name in ("builtin_scorers", "builtin_suites"):
        assert rows[name]["builtin"] is True
        assert rows[name]["distribution"] == "rmbench"
        assert rows[name]["status"] == "ok", rows[name]["error"]
    assert rows["builtin_scorers"]["scorers"]
    assert rows["builtin_suites"]["suites"]


def test_plugin_command_runs(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_good", GOOD_PLUGIN)

    result = invoke("toy-hello", "--name", "plugin author")

    assert result.exit_code == 0, result.output
    assert result.stdout == "hello plugin author\n"


def test_cli_works_when_a_plugin_cannot_add_its_commands(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_good", GOOD_PLUGIN)
    sandbox.add("toy_no_commands", BROKEN_COMMANDS)

    assert invoke("toy-hello").stdout == "hello world\n"
    rows = by_name(json.loads(invoke("plugins", "--json").stdout))
    assert (
        rows["toy_no_commands"]["error"] == "register_commands: RuntimeError: cannot add commands"
    )


def test_scorers_and_suites_json(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_good", GOOD_PLUGIN)

    scorers = by_name(json.loads(invoke("scorers", "--json").stdout))
    suites = by_name(json.loads(invoke("suites", "--json").stdout))

    assert scorers["toy-length"] == {
        "name": "toy-length",
        "plugin": "toy_good",
        "description": "Scores a response by its length in characters.",
    }
    assert suites["toy-suite"] == {
        "name": "toy-suite",
        "plugin": "toy_good",
        "description": "A suite that exists only in tests.",
        "default_source": "toy/hub-id",
    }


def test_scorers_and_suites_tables_point_at_broken_plugins(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_good", GOOD_PLUGIN)
    sandbox.add("toy_broken", BROKEN_IMPORT)

    scorers = invoke("scorers")
    suites = invoke("suites")

    assert scorers.exit_code == 0 and suites.exit_code == 0
    [row] = [line for line in scorers.stdout.splitlines() if "toy-length" in line]
    assert "toy_good" in row and "Scores a response by its length in characters." in row
    [row] = [line for line in suites.stdout.splitlines() if "toy-suite" in line]
    assert "toy_good" in row and "toy/hub-id" in row
    for result in (scorers, suites):
        assert "toy_broken" in result.stderr and "run `rmbench plugins`" in result.stderr
        assert "toy_broken" not in result.stdout


def test_help_texts(sandbox: PluginSandbox) -> None:
    result = invoke("--help")

    assert result.exit_code == 0
    assert "which are broken" in result.stdout  # `plugins`
    assert "--scorer" in result.stdout  # `scorers`
    assert "--json" in invoke("plugins", "--help").stdout
