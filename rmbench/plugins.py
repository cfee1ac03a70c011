"""Plugin discovery and the registry of scorers, suites, verifiers and commands they provide.

Plugins are found through the ``rmbench`` entry-point group (rmbench's own built-ins use the
same group) and managed by a :class:`pluggy.PluginManager`. Unlike a plain
``pm.hook.register_scorers(...)`` call, everything here is *isolated per plugin*: a plugin
whose import raises, whose hook raises, or which registers something invalid is recorded as
broken and reported by ``rmbench plugins``, while every other plugin keeps working. One
broken third-party package must never take the whole CLI down with it.

Rules, in the order they are applied:

* Built-in entry points (distribution ``rmbench``) load first, then third-party ones sorted by
  name, then plugins added with :func:`register_plugin`; hooks are called in that same order,
  so the outcome never depends on ``sys.path`` order (``tryfirst``/``trylast`` are ignored).
* If a hook implementation raises, everything that plugin registered *in that hook* is
  discarded, so no half-registered plugin is left behind; its other hooks still count.
* An invalid object or a name that is already taken (first registration wins, so a plugin
  cannot shadow a built-in) is skipped and recorded as that plugin's error; the plugin's
  other registrations stay.

Tests and embedding code add plugin objects without packaging them::

    from rmbench.plugins import register_plugin
    register_plugin(my_module)  # takes effect on the next get_registry()

and call :func:`reset_registry` to go back to what the entry points alone provide.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import reprlib
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pluggy
import typer
import typer.core
from typer.models import CommandInfo, TyperInfo

from rmbench import hookspecs
from rmbench.errors import UsageError

if TYPE_CHECKING:
    from rmbench.scorers.base import ScorerFactory
    from rmbench.suites.base import Suite
    from rmbench.verifiers.base import Verifier

PROJECT = "rmbench"
ENTRY_POINT_GROUP = "rmbench"

HOOKS = ("register_scorers", "register_suites", "register_commands", "register_verifiers")
#: Where a failure happened: ``import`` (loading the entry point), ``register`` (handing the
#: object to pluggy, which validates hook signatures) or the name of the hook that failed.
STAGES = ("import", "register", *HOOKS)


@dataclass(frozen=True)
class PluginFailure:
    """One thing that went wrong with one plugin; ``message`` is a single line."""

    plugin: str
    stage: str
    message: str
    traceback: str = ""  # full traceback when an exception caused it, for `plugins --traceback`

    def __str__(self) -> str:
        return f"{self.stage}: {self.message}"


@dataclass(frozen=True)
class PluginInfo:
    """What ``rmbench plugins`` shows about one plugin."""

    name: str
    distribution: str | None  # None for plugins added with register_plugin()
    version: str | None
    builtin: bool
    scorers: tuple[str, ...] = ()
    suites: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    failures: tuple[PluginFailure, ...] = ()
    verifiers: tuple[str, ...] = ()

    @property
    def error(self) -> str | None:
        """All of this plugin's failures as one line, or None when it is healthy."""
        return "; ".join(str(failure) for failure in self.failures) or None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "scorers": list(self.scorers),
            "suites": list(self.suites),
            "commands": list(self.commands),
            "verifiers": list(self.verifiers),
            "status": "error" if self.failures else "ok",
            "error": self.error,
        }


@dataclass(frozen=True)
class RegisteredScorer:
    factory: ScorerFactory
    plugin: str


@dataclass(frozen=True)
class RegisteredSuite:
    suite: Suite
    plugin: str


@dataclass(frozen=True)
class RegisteredVerifier:
    verifier: Verifier
    plugin: str


@dataclass(frozen=True)
class RegisteredCommand:
    """A command or command group a plugin added; one unnamed group can provide several names."""

    names: tuple[str, ...]
    plugin: str
    info: CommandInfo | TyperInfo


@dataclass(frozen=True)
class Registry:
    """Everything the plugins provide. Read-only for callers.

    ``unavailable`` maps ``(kind, name)`` to the failure that kept a scorer, suite or verifier
    of that name out (kind is ``"scorer"``, ``"suite"`` or ``"verifier"``), so a lookup can say
    *why* it is missing.
    """

    scorers: dict[str, RegisteredScorer]
    suites: dict[str, RegisteredSuite]
    commands: dict[str, tuple[RegisteredCommand, ...]]
    plugins: list[PluginInfo]
    unavailable: dict[tuple[str, str], PluginFailure] = field(default_factory=dict)
    verifiers: dict[str, RegisteredVerifier] = field(default_factory=dict)

    @property
    def broken_plugins(self) -> list[PluginInfo]:
        return [info for info in self.plugins if info.failures]

    def _record_failure(
        self, failure: PluginFailure, *, dropped_commands: Iterable[str] = ()
    ) -> None:
        """Late failures (command clashes found when the CLI is assembled) update the report."""
        dropped = set(dropped_commands)
        for index, info in enumerate(self.plugins):
            if info.name == failure.plugin:
                self.plugins[index] = replace(
                    info,
                    commands=tuple(name for name in info.commands if name not in dropped),
                    failures=(*info.failures, failure),
                )
                return


# --------------------------------------------------------------------------- building


@dataclass
class _PluginState:
    """A plugin while the registry is being built."""

    name: str
    distribution: str | None
    version: str | None
    builtin: bool
    registered: bool = False
    scorers: list[str] = field(default_factory=list)
    suites: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    verifiers: list[str] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)

    def fail(self, stage: str, message: str, tb: str = "") -> PluginFailure:
        failure = PluginFailure(self.name, stage, message, tb)
        self.failures.append(failure)
        return failure

    def fail_with(self, stage: str, error: BaseException) -> PluginFailure:
        return self.fail(stage, _one_line(error), "".join(traceback.format_exception(error)))

    def info(self) -> PluginInfo:
        return PluginInfo(
            name=self.name,
            distribution=self.distribution,
            version=self.version,
            builtin=self.builtin,
            scorers=tuple(self.scorers),
            suites=tuple(self.suites),
            commands=tuple(self.commands),
            failures=tuple(self.failures),
            verifiers=tuple(self.verifiers),
        )


def _one_line(error: BaseException) -> str:
    """``ExcType: message`` on one line, as the plugin table shows it."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60


def _short_repr(obj: object) -> str:
    try:
        return _repr.repr(obj)
    except Exception:  # a plugin's own __repr__ may be as broken as the rest of it
        return f"<{type(obj).__name__} object>"


def _is_builtin(entry_point: importlib.metadata.EntryPoint) -> bool:
    dist = entry_point.dist
    return dist is not None and dist.name.lower().replace("_", "-") == PROJECT


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    """Built-ins first, then third-party plugins by name: deterministic whatever sys.path says."""
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)

    def key(ep: importlib.metadata.EntryPoint) -> tuple[bool, str, str]:
        return (not _is_builtin(ep), ep.name, ep.dist.name if ep.dist else "")

    return sorted(found, key=key)


def _check_fields(
    obj: object, strings: Iterable[str], methods: Iterable[str], may_be_empty: Iterable[str] = ()
) -> str | None:
    """Why ``obj`` cannot be used (None if it can). Attribute access is guarded: it is plugin code."""
    if isinstance(obj, type):
        return "a class was registered; register an instance"
    try:
        for attr in strings:
            value = getattr(obj, attr, None)
            if not isinstance(value, str) or not (value.strip() or attr in may_be_empty):
                kind = "str" if attr in may_be_empty else "non-empty str"
                return f"`{attr}` must be a {kind}, got {_short_repr(value)}"
        for attr in methods:
            if not callable(getattr(obj, attr, None)):
                return f"`{attr}` must be a method"
    except Exception as error:
        return f"reading its attributes raised {_one_line(error)}"
    return None


def _check_scorer(obj: object) -> str | None:
    return _check_fields(obj, ("name", "description"), ("create",))


def _check_suite(obj: object) -> str | None:
    # description and default_source are listed by `rmbench suites`; a suite may lack a default source.
    return _check_fields(
        obj, ("name", "description", "default_source"), ("load", "evaluate"), ("default_source",)
    )


def _check_verifier(obj: object) -> str | None:
    return _check_fields(obj, ("name", "description"), ("check",))


def _name_of(obj: object) -> str | None:
    try:
        name = getattr(obj, "name", None)
    except Exception:
        return None
    return name if isinstance(name, str) and name else None


def _no_callback() -> None:
    """Makes a probe app a group even when it holds a single command."""


def _command_names(commands: Iterable[CommandInfo], groups: Iterable[TyperInfo]) -> tuple[str, ...]:
    """The sub-command names these entries produce, resolved by Typer itself.

    Typer derives names from function names and merges unnamed groups into their parent;
    building a throwaway app is the only way to get exactly the names click will see.
    """
    probe = typer.Typer()
    probe.callback()(_no_callback)
    probe.registered_commands = list(commands)
    probe.registered_groups = list(groups)
    group = typer.main.get_command(probe)
    assert isinstance(group, typer.core.TyperGroup)  # the callback makes it one
    return tuple(sorted(group.commands))


class _Builder:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[_PluginState] = []
        self.scorers: dict[str, RegisteredScorer] = {}
        self.suites: dict[str, RegisteredSuite] = {}
        self.verifiers: dict[str, RegisteredVerifier] = {}
        self.commands: dict[str, list[RegisteredCommand]] = {}
        self.command_owners: dict[str, str] = {}
        self.unavailable: dict[tuple[str, str], PluginFailure] = {}

    # -- loading

    def load_entry_point(self, entry_point: importlib.metadata.EntryPoint) -> None:
        dist = entry_point.dist
        state = _PluginState(
            name=entry_point.name,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
            builtin=_is_builtin(entry_point),
        )
        self.plugins.append(state)
        try:
            plugin = entry_point.load()
        except (Exception, SystemExit) as error:  # a plugin calling sys.exit() must not end rmbench
            state.fail_with("import", error)
            return
        self._register(state, plugin)

    def add_plugin(self, name: str, plugin: object) -> None:
        state = _PluginState(name=name, distribution=None, version=None, builtin=False)
        self.plugins.append(state)
        self._register(state, plugin)

    def _register(self, state: _PluginState, plugin: object) -> None:
        try:
            self.pm.register(plugin, name=state.name)
        except Exception as error:  # bad hook signature, or a name/object registered twice
            state.fail_with("register", error)
            return
        state.registered = True
        known = ", ".join(HOOKS)
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.spec is None and not any(
                impl.optionalhook for impl in caller.get_hookimpls() if impl.plugin is plugin
            ):
                # Most likely a typo: the hook would silently never be called.
                state.fail("register", f"unknown hook {caller.name!r} (known hooks: {known})")

    # -- calling hooks, one plugin at a time

    def _call(
        self, state: _PluginState, hook_name: str, kwargs: Mapping[str, object]
    ) -> PluginFailure | None:
        """Call ``state``'s implementation of a hook, if it has one; the failure if it raised."""
        if not state.registered:
            return None
        caller = getattr(self.pm.hook, hook_name)
        impl = next((i for i in caller.get_hookimpls() if i.plugin_name == state.name), None)
        if impl is None:
            return None
        if impl.wrapper or impl.hookwrapper:
            return state.fail(hook_name, "hook wrappers are not supported by rmbench hooks")
        try:
            impl.function(*(kwargs[arg] for arg in impl.argnames))
        except (Exception, SystemExit) as error:
            return state.fail_with(hook_name, error)
        return None

    def collect(self, kind: str, hook_name: str, check: Callable[[object], str | None]) -> None:
        table: dict[str, Any] = {
            "scorer": self.scorers,
            "suite": self.suites,
            "verifier": self.verifiers,
        }[kind]
        for state in self.plugins:
            got: list[object] = []
            failure = self._call(state, hook_name, {"register": got.append})
            if failure is not None:
                # Discard the whole hook's output, but remember the names for a useful lookup error.
                for name in filter(None, map(_name_of, got)):
                    self.unavailable.setdefault((kind, name), failure)
                continue
            for obj in got:
                name = _name_of(obj)
                problem = check(obj)
                if problem is not None:
                    failure = state.fail(hook_name, f"invalid {kind} {_short_repr(obj)}: {problem}")
                    if name:
                        self.unavailable.setdefault((kind, name), failure)
                elif name in table:
                    state.fail(
                        hook_name,
                        f"{kind} {name!r} is already registered by plugin {table[name].plugin!r}",
                    )
                elif kind == "scorer":
                    table[name] = RegisteredScorer(obj, state.name)  # type: ignore[arg-type]
                    state.scorers.append(name)
                elif kind == "suite":
                    table[name] = RegisteredSuite(obj, state.name)  # type: ignore[arg-type]
                    state.suites.append(name)
                else:
                    table[name] = RegisteredVerifier(obj, state.name)  # type: ignore[arg-type]
                    state.verifiers.append(name)

    def collect_commands(self) -> None:
        """Run each ``register_commands`` on a scratch app, so a raising plugin adds nothing.

        Only commands and command groups are carried over to the real app; a plugin cannot
        replace the app's callback or settings.
        """
        for state in self.plugins:
            scratch = typer.Typer()
            if self._call(state, "register_commands", {"cli": scratch}) is not None:
                continue
            entries: list[CommandInfo | TyperInfo] = [
                *scratch.registered_commands,
                *scratch.registered_groups,
            ]
            for info in entries:
                try:
                    if isinstance(info, TyperInfo):
                        names = _command_names((), (info,))
                    else:
                        names = _command_names((info,), ())
                except Exception as error:
                    state.fail_with("register_commands", error)
                    continue
                clash = next((n for n in names if n in self.command_owners), None)
                if clash is not None:
                    owner = self.command_owners[clash]
                    state.fail(
                        "register_commands",
                        f"command {clash!r} is already registered by plugin {owner!r}",
                    )
                    continue
                self.commands.setdefault(state.name, []).append(
                    RegisteredCommand(names, state.name, info)
                )
                self.command_owners.update(dict.fromkeys(names, state.name))
                state.commands.extend(names)

    def finish(self) -> Registry:
        tables: dict[str, Mapping[str, object]] = {
            "scorer": self.scorers,
            "suite": self.suites,
            "verifier": self.verifiers,
        }
        unavailable = {
            key: failure
            for key, failure in self.unavailable.items()
            if key[1] not in tables[key[0]]
        }
        return Registry(
            scorers=self.scorers,
            suites=self.suites,
            commands={plugin: tuple(entries) for plugin, entries in self.commands.items()},
            plugins=[state.info() for state in self.plugins],
            unavailable=unavailable,
            verifiers=self.verifiers,
        )


def build_registry(extra_plugins: Mapping[str, object] | None = None) -> Registry:
    """Discover, load and call every plugin now (uncached). ``extra_plugins`` maps name to object.

    Never raises because of a plugin: all plugin failures end up in ``Registry.plugins``.
    """
    builder = _Builder()
    for entry_point in _entry_points():
        builder.load_entry_point(entry_point)
    for name, plugin in (extra_plugins or {}).items():
        builder.add_plugin(name, plugin)
    builder.collect("scorer", "register_scorers", _check_scorer)
    builder.collect("suite", "register_suites", _check_suite)
    builder.collect("verifier", "register_verifiers", _check_verifier)
    builder.collect_commands()
    return builder.finish()


# --------------------------------------------------------------------------- cached access

_registry: Registry | None = None
_extra_plugins: dict[str, object] = {}


def get_registry() -> Registry:
    """The process-wide registry, built on first use: listing plugins costs one discovery."""
    global _registry
    if _registry is None:
        _registry = build_registry(_extra_plugins)
    return _registry


def reset_registry() -> None:
    """Forget the cached registry and every :func:`register_plugin` plugin (tests use this)."""
    global _registry
    _registry = None
    _extra_plugins.clear()


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Add a plugin object (a module, a class instance...) without packaging it; returns its name.

    The equivalent of pytest's ``-p``: the plugin takes part, after the entry-point plugins,
    from the next :func:`get_registry` on (the cached registry is dropped). ``name`` defaults
    to the object's ``__name__``.
    """
    global _registry
    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    if name in _extra_plugins:
        raise ValueError(f"a plugin named {name!r} is already registered")
    _extra_plugins[name] = plugin
    _registry = None
    return name


def _lookup(kind: str, name: str, table: Mapping[str, Any], registry: Registry) -> Any:
    """``table[name]``, or a :class:`UsageError` that says what is there and why ``name`` is not."""
    if name in table:
        return table[name]
    failure = registry.unavailable.get((kind, name))
    if failure is not None:
        raise UsageError(
            f"{kind} {name!r} is unavailable: plugin {failure.plugin!r} failed to load"
            f" ({failure.message})"
        )
    message = f"unknown {kind} {name!r}; available: {', '.join(sorted(table)) or 'none'}"
    close = difflib.get_close_matches(name, list(table), n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    broken = len(registry.broken_plugins)
    if broken:
        plural = "plugin" if broken == 1 else "plugins"
        message += f"; {broken} {plural} failed to load, run `rmbench plugins` for details"
    raise UsageError(message)


def get_scorer_factory(name: str) -> ScorerFactory:
    """The factory registered as ``name``; a one-line :class:`UsageError` if there is none."""
    registry = get_registry()
    return _lookup("scorer", name, registry.scorers, registry).factory


def get_suite(name: str) -> Suite:
    """The suite registered as ``name``; a one-line :class:`UsageError` if there is none."""
    registry = get_registry()
    return _lookup("suite", name, registry.suites, registry).suite


def get_verifier(name: str) -> Verifier:
    """The verifier registered as ``name``; a one-line :class:`UsageError` if there is none."""
    registry = get_registry()
    return _lookup("verifier", name, registry.verifiers, registry).verifier


def register_plugin_commands(app: typer.Typer, registry: Registry | None = None) -> None:
    """Add the commands plugins registered to ``app``; idempotent.

    The plugins' ``register_commands`` hooks already ran on scratch apps while the registry
    was built, so nothing here runs plugin code. A plugin command whose name is taken by a
    command already on ``app`` is dropped (a plugin must not hijack ``rmbench run``) and
    reported as that plugin's error.
    """
    if getattr(app, "_rmbench_plugin_commands", False):
        return
    registry = registry if registry is not None else get_registry()
    taken = set(_command_names(app.registered_commands, app.registered_groups))
    for entries in registry.commands.values():
        for entry in entries:
            clash = next((n for n in entry.names if n in taken), None)
            if clash is not None:
                failure = PluginFailure(
                    entry.plugin,
                    "register_commands",
                    f"command {clash!r} clashes with a built-in rmbench command",
                )
                registry._record_failure(failure, dropped_commands=entry.names)
                continue
            if isinstance(entry.info, TyperInfo):
                app.registered_groups.append(entry.info)
            else:
                app.registered_commands.append(entry.info)
            taken.update(entry.names)
    app._rmbench_plugin_commands = True  # type: ignore[attr-defined]
