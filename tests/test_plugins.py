"""Plugin discovery and isolation: one broken plugin must never break the others."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from plugin_helpers import GOOD_PLUGIN, PluginSandbox, scorer_plugin

from rmbench import hookimpl
from rmbench.errors import UsageError
from rmbench.plugins import (
    PluginInfo,
    Registry,
    get_registry,
    get_scorer_factory,
    get_suite,
    register_plugin,
    register_plugin_commands,
    reset_registry,
)
from rmbench.scorers.base import ScorerOptions, ScoringItem


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[PluginSandbox]:
    box = PluginSandbox(tmp_path, monkeypatch)
    yield box
    box.close()


def plugin(registry: Registry, name: str) -> PluginInfo:
    [info] = [info for info in registry.plugins if info.name == name]
    return info


def assert_good_plugin_works(registry: Registry) -> None:
    info = plugin(registry, "toy_good")
    assert info.error is None
    assert (info.scorers, info.suites, info.commands) == (
        ("toy-length",),
        ("toy-suite",),
        ("toy-hello",),
    )
    assert registry.scorers["toy-length"].plugin == "toy_good"
    assert registry.suites["toy-suite"].plugin == "toy_good"


def test_good_plugin_registers_scorer_suite_and_command(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_good", GOOD_PLUGIN, dist="rmbench-toy", version="2.3.1")
    registry = get_registry()

    assert_good_plugin_works(registry)
    info = plugin(registry, "toy_good")
    assert (info.distribution, info.version, info.builtin) == ("rmbench-toy", "2.3.1", False)

    scorer = get_scorer_factory("toy-length").create(ScorerOptions(model="unused"))
    items = [ScoringItem("a", [{"role": "user", "content": "hi"}], "four")]
    [batch] = list(scorer.score_batches(items))
    assert batch.keys == ["a"] and batch.scores.tolist() == [4.0]
    assert get_suite("toy-suite").default_source == "toy/hub-id"


def test_builtins_come_first_then_third_party_sorted_by_name(sandbox: PluginSandbox) -> None:
    for name in ("toy_c", "toy_a", "toy_b"):
        sandbox.add(name, scorer_plugin(f"{name}-scorer"))
    plugins = get_registry().plugins

    builtin_flags = [info.builtin for info in plugins]
    assert builtin_flags == sorted(builtin_flags, reverse=True)
    # Other installed plugins (e.g. the example in plugins/) interleave by name too.
    third_party = [info.name for info in plugins if not info.builtin]
    assert third_party == sorted(third_party)
    assert [n for n in third_party if n.startswith("toy_")] == ["toy_a", "toy_b", "toy_c"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "import not_installed_dependency\n",
            "ModuleNotFoundError: No module named 'not_installed_dependency'",
        ),
        ("raise ImportError('needs libfoo >= 2')\n", "ImportError: needs libfoo >= 2"),
        ("raise RuntimeError('bad\\nconfig')\n", "RuntimeError: bad config"),
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
    ],
)
def test_plugin_whose_import_raises_is_reported_and_isolated(
    sandbox: PluginSandbox, source: str, expected: str
) -> None:
    sandbox.add("toy_broken", source, dist="rmbench-broken", version="0.1")
    sandbox.add("toy_good", GOOD_PLUGIN)
    registry = get_registry()

    broken = plugin(registry, "toy_broken")
    assert (broken.distribution, broken.version) == ("rmbench-broken", "0.1")
    assert [(f.stage, f.message) for f in broken.failures] == [("import", expected)]
    assert broken.error == f"import: {expected}"
    assert "Traceback" in broken.failures[0].traceback
    assert_good_plugin_works(registry)


def test_raising_hook_discards_what_that_hook_registered(sandbox: PluginSandbox) -> None:
    sandbox.add(
        "toy_half",
        """
        from rmbench import hookimpl
        from toy_good import LengthFactory, ToySuite

        class Half(LengthFactory):
            name = "toy-half"

        @hookimpl
        def register_scorers(register):
            register(Half())
            raise RuntimeError("lost the GPU")

        @hookimpl
        def register_suites(register):
            suite = ToySuite()
            suite.name = "toy-half-suite"
            register(suite)
        """,
    )
    sandbox.add("toy_good", GOOD_PLUGIN)
    registry = get_registry()

    half = plugin(registry, "toy_half")
    assert half.error == "register_scorers: RuntimeError: lost the GPU"
    assert half.scorers == () and "toy-half" not in registry.scorers
    assert half.suites == ("toy-half-suite",)  # a different hook, so it stands
    assert_good_plugin_works(registry)

    with pytest.raises(UsageError) as caught:
        get_scorer_factory("toy-half")
    assert str(caught.value) == (
        "scorer 'toy-half' is unavailable: plugin 'toy_half' failed to load (RuntimeError: lost the GPU)"
    )


def test_duplicate_name_first_registration_wins(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_a", scorer_plugin("toy-dup"))
    sandbox.add("toy_b", scorer_plugin("toy-dup", "toy-b-only"))
    registry = get_registry()

    assert registry.scorers["toy-dup"].plugin == "toy_a"
    second = plugin(registry, "toy_b")
    assert (
        second.error == "register_scorers: scorer 'toy-dup' is already registered by plugin 'toy_a'"
    )
    assert second.scorers == ("toy-b-only",)
    assert plugin(registry, "toy_a").error is None


def test_third_party_cannot_shadow_a_builtin(sandbox: PluginSandbox) -> None:
    registry = get_registry()
    builtin = [
        name for name, entry in registry.scorers.items() if plugin(registry, entry.plugin).builtin
    ]
    if not builtin:
        pytest.skip("no built-in scorer is registered yet")
    reset_registry()
    sandbox.add("aaa_shadow", scorer_plugin(builtin[0]))  # sorts before every built-in name
    registry = get_registry()

    assert plugin(registry, registry.scorers[builtin[0]].plugin).builtin
    assert plugin(registry, "aaa_shadow").error == (
        f"register_scorers: scorer {builtin[0]!r} is already registered by plugin "
        f"{registry.scorers[builtin[0]].plugin!r}"
    )


def test_invalid_objects_are_rejected_and_valid_siblings_kept(sandbox: PluginSandbox) -> None:
    sandbox.add(
        "toy_invalid",
        """
        from rmbench import hookimpl
        from toy_good import LengthFactory, ToySuite

        class NoCreate:
            name = "toy-no-create"
            description = "Forgot create()."

        class Unnamed(LengthFactory):
            name = ""

        class NoEvaluate:
            name = "toy-no-evaluate"
            description = "Forgot evaluate()."
            default_source = ""

            def load(self, options):
                return None

        @hookimpl
        def register_scorers(register):
            register(NoCreate())
            register(LengthFactory)  # the class, not an instance
            register(Unnamed())
            register(None)
            ok = LengthFactory()
            ok.name = "toy-valid"
            register(ok)

        @hookimpl
        def register_suites(register):
            register(NoEvaluate())
        """,
    )
    sandbox.add("toy_good", GOOD_PLUGIN)
    registry = get_registry()

    info = plugin(registry, "toy_invalid")
    messages = [f.message for f in info.failures]
    assert len(messages) == 5
    assert messages[0].startswith("invalid scorer <") and messages[0].endswith(
        "`create` must be a method"
    )
    assert messages[1].endswith("a class was registered; register an instance")
    assert messages[2].endswith("`name` must be a non-empty str, got ''")
    assert messages[3] == "invalid scorer None: `name` must be a non-empty str, got None"
    assert messages[4].endswith("`evaluate` must be a method")
    assert info.scorers == ("toy-valid",) and info.suites == ()
    assert_good_plugin_works(registry)

    with pytest.raises(
        UsageError, match=r"^suite 'toy-no-evaluate' is unavailable: plugin 'toy_invalid'"
    ):
        get_suite("toy-no-evaluate")


def test_misspelled_hook_is_reported(sandbox: PluginSandbox) -> None:
    sandbox.add(
        "toy_typo",
        """
        from rmbench import hookimpl

        @hookimpl
        def register_scorer(register):
            pass
        """,
    )
    assert plugin(get_registry(), "toy_typo").error == (
        "register: unknown hook 'register_scorer' "
        "(known hooks: register_scorers, register_suites, register_commands, register_verifiers)"
    )


def test_bad_hook_signature_is_reported(sandbox: PluginSandbox) -> None:
    sandbox.add(
        "toy_signature",
        """
        from rmbench import hookimpl

        @hookimpl
        def register_scorers(register, device):
            pass
        """,
    )
    sandbox.add("toy_good", GOOD_PLUGIN)
    registry = get_registry()

    [failure] = plugin(registry, "toy_signature").failures
    assert failure.stage == "register" and failure.message.startswith("PluginValidationError: ")
    assert_good_plugin_works(registry)


def test_unknown_name_suggests_the_closest_and_counts_broken_plugins(
    sandbox: PluginSandbox,
) -> None:
    sandbox.add("toy_good", GOOD_PLUGIN)
    already_broken = len(get_registry().broken_plugins)  # built-ins still being written, if any

    with pytest.raises(UsageError) as caught:
        get_scorer_factory("toy-lenght")
    message = str(caught.value)
    assert message.startswith("unknown scorer 'toy-lenght'; available: ")
    available = message.split("; available: ")[1].split(" (did you mean")[0]
    assert "toy-length" in available.split(", ")
    assert "(did you mean 'toy-length'?)" in message
    assert "\n" not in message

    reset_registry()
    sandbox.add("toy_broken_a", "raise ImportError('nope')\n")
    sandbox.add("toy_broken_b", "raise ImportError('nope')\n")
    with pytest.raises(UsageError) as caught:
        get_suite("toy-suit")
    message = str(caught.value)
    assert "(did you mean 'toy-suite'?)" in message
    assert message.endswith(
        f"; {already_broken + 2} plugins failed to load, run `rmbench plugins` for details"
    )


def test_unknown_name_without_a_close_match(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_good", GOOD_PLUGIN)
    with pytest.raises(UsageError) as caught:
        get_scorer_factory("zzzzzzzz")
    assert "did you mean" not in str(caught.value)
    assert str(caught.value).startswith("unknown scorer 'zzzzzzzz'; available: ")


def test_registry_is_cached_until_reset(sandbox: PluginSandbox) -> None:
    first = get_registry()
    assert get_registry() is first
    reset_registry()
    assert get_registry() is not first


class InCodePlugin:
    """A plugin that is an object rather than an installed module."""

    class Factory:
        name = "toy-in-code"
        description = "Registered with register_plugin()."

        def create(self, options: ScorerOptions) -> object:
            return self

    @hookimpl
    def register_scorers(self, register):
        register(self.Factory())


def test_register_plugin_adds_an_object_until_reset(sandbox: PluginSandbox) -> None:
    before = get_registry()
    assert register_plugin(InCodePlugin(), name="in_code") == "in_code"
    registry = get_registry()

    assert registry is not before
    info = plugin(registry, "in_code")
    assert (info.distribution, info.scorers, info.error) == (None, ("toy-in-code",), None)
    assert registry.plugins[-1] is info  # after every entry-point plugin
    with pytest.raises(ValueError, match="already registered"):
        register_plugin(InCodePlugin(), name="in_code")

    reset_registry()
    assert "toy-in-code" not in get_registry().scorers


def test_raising_register_commands_adds_no_command(sandbox: PluginSandbox) -> None:
    sandbox.add(
        "toy_cmd_broken",
        """
        from rmbench import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def toy_half_command():
                pass
            raise KeyError("config")
        """,
    )
    sandbox.add("toy_good", GOOD_PLUGIN)
    registry = get_registry()

    assert plugin(registry, "toy_cmd_broken").error == "register_commands: KeyError: 'config'"
    assert "toy_cmd_broken" not in registry.commands
    assert_good_plugin_works(registry)


def test_plugin_command_clashing_with_an_app_command_is_dropped(sandbox: PluginSandbox) -> None:
    sandbox.add(
        "toy_hijack",
        """
        from rmbench import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command("run")
            def hijack():
                pass

            @cli.command()
            def toy_extra():
                pass
        """,
    )
    app = typer.Typer()

    @app.command("run")
    def run() -> None:
        """Stands in for the built-in `rmbench run`."""

    register_plugin_commands(app)
    register_plugin_commands(app)  # idempotent: no second copy, no spurious clash
    registry = get_registry()

    callbacks = [info.callback for info in app.registered_commands]
    assert callbacks[0] is run
    assert [callback.__name__ for callback in callbacks] == ["run", "toy_extra"]
    info = plugin(registry, "toy_hijack")
    assert info.error == "register_commands: command 'run' clashes with a built-in rmbench command"
    assert info.commands == ("toy-extra",)


def test_duplicate_command_between_plugins(sandbox: PluginSandbox) -> None:
    sandbox.add("toy_good", GOOD_PLUGIN)
    sandbox.add(
        "toy_other",
        """
        from rmbench import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command("toy-hello")
            def hello():
                pass
        """,
    )
    registry = get_registry()
    assert plugin(registry, "toy_other").error == (
        "register_commands: command 'toy-hello' is already registered by plugin 'toy_good'"
    )
    assert_good_plugin_works(registry)


def test_builtin_plugins_load_cleanly(sandbox: PluginSandbox) -> None:
    """rmbench's own scorers and suites come through the same entry points as any plugin."""
    builtins = {info.name: info for info in get_registry().plugins if info.builtin}

    assert set(builtins) >= {"builtin_scorers", "builtin_suites"}
    assert {info.distribution for info in builtins.values()} == {"rmbench"}
    assert {name: info.error for name, info in builtins.items()} == dict.fromkeys(builtins)
    assert builtins["builtin_scorers"].scorers
    assert builtins["builtin_suites"].suites
