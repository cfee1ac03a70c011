"""The hooks a plugin may implement; every hook rmbench calls is declared here.

Plugins are modules or packages advertised under the ``rmbench`` entry-point group::

    [project.entry-points.rmbench]
    my_plugin = "my_package.plugin"

The module implements any of the hooks below, decorated with :data:`rmbench.hookimpl`.
rmbench's own scorers, suites and verifiers register through exactly the same hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from rmbench.scorers.base import ScorerFactory
    from rmbench.suites.base import Suite
    from rmbench.verifiers.base import Verifier

hookspec = pluggy.HookspecMarker("rmbench")


@hookspec
def register_scorers(register: Callable[[ScorerFactory], None]) -> None:
    """Register scorer factories by calling ``register(factory)`` once per scorer.

    A factory has a unique ``name`` (what users pass to ``--scorer``), a one-line
    ``description`` and ``create(options) -> Scorer``. Creation is lazy: heavy imports and
    model loading belong in ``create``, so listing plugins stays fast.
    """


@hookspec
def register_suites(register: Callable[[Suite], None]) -> None:
    """Register benchmark suites by calling ``register(suite)`` once per suite."""


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add sub-commands to the ``rmbench`` Typer application."""


@hookspec
def register_verifiers(register: Callable[[Verifier], None]) -> None:
    """Register verifiers by calling ``register(verifier)`` once per verifier.

    A verifier has a unique ``name`` (what users pass to ``-O verifier=NAME`` and
    ``rmbench verify --verifier``), a one-line ``description`` and
    ``check(item: VerifyItem) -> Verdict`` (see :mod:`rmbench.verifiers.base`). Checks run in
    worker processes under a per-item timeout, so the object must be picklable and its
    module importable by name.
    """
