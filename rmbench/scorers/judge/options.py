"""Options every judge backend shares: the judging mode, its template, soft verdicts,
best-of-4 rotations, the seed and the reply length; parsed once, with one-line errors.

Mode ``rewardbench2`` judges RewardBench 2 as its authors do in one run: subset ``Ties`` by
ratings, every other subset best-of-4 (:mod:`.dispatch`). It uses the two modes' built-in
templates (``mt-bench-single`` and ``rewardbench2-4way``) and refuses ``-O template``, which
could only name one of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rmbench.errors import UsageError
from rmbench.scorers.base import ScorerOptions
from rmbench.scorers.judge.templates import DEFAULT_TEMPLATES, MODES, JudgeTemplate, load_template

#: ``-O`` keys of every judge scorer.
COMMON_OPTIONS = ("mode", "template", "soft", "rotations", "seed", "max_tokens")
#: RewardBench 2 in one run: Ties rated, every other subset best-of-4.
REWARDBENCH2 = "rewardbench2"
#: What ``-O mode`` accepts: the plain modes and the RewardBench 2 dispatch.
JUDGE_MODES = (*MODES, REWARDBENCH2)
#: The plain modes each ``-O mode`` judges with.
SUB_MODES = {**{mode: (mode,) for mode in MODES}, REWARDBENCH2: ("ratings", "best-of-4")}


def number(options: ScorerOptions, key: str, default: str, kind: type, low: float) -> Any:
    raw = options.extra.get(key, default)
    try:
        value = kind(raw)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise UsageError(f"option -O {key}: {raw!r} is not {what}") from None
    if not math.isfinite(value) or value < low:
        raise UsageError(f"option -O {key}: must be at least {low:g}, got {raw!r}")
    return value


def flag(options: ScorerOptions, key: str) -> bool:
    raw = options.extra.get(key, "false").strip().lower()
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise UsageError(f"option -O {key}: expected true or false, got {raw!r}")


@dataclass(frozen=True)
class JudgeSettings:
    """How the judge is asked and how its replies are read, whatever the backend."""

    mode: str
    templates: Mapping[str, JudgeTemplate]  # per plain mode judged (one, or two for rewardbench2)
    soft: bool
    rotations: int  # best-of-4 and rewardbench2 only (1 elsewhere)
    seed: int
    max_tokens: int

    @property
    def template(self) -> JudgeTemplate:
        """The template of a plain mode (rewardbench2 has one per sub-mode: ``templates``)."""
        if len(self.templates) != 1:
            raise ValueError(f"mode {self.mode} has one template per sub-mode")
        return next(iter(self.templates.values()))

    @property
    def rotates(self) -> bool:
        return "best-of-4" in SUB_MODES[self.mode]

    @classmethod
    def from_options(cls, options: ScorerOptions) -> JudgeSettings:
        mode = options.extra.get("mode", "pairwise")
        if mode not in JUDGE_MODES:
            raise UsageError(f"option -O mode: {mode!r} is not one of {', '.join(JUDGE_MODES)}")
        rotations = 1
        if "best-of-4" in SUB_MODES[mode]:
            rotations = number(options, "rotations", "4", int, 1)
            if rotations > 4:
                raise UsageError(
                    f"option -O rotations: at most 4 (the distinct rotations of 4 responses), "
                    f"got {rotations}"
                )
        elif "rotations" in options.extra:
            raise UsageError(
                f"option -O rotations: only modes best-of-4 and {REWARDBENCH2} rotate (mode is "
                f"{mode})"
            )
        if mode == REWARDBENCH2 and "template" in options.extra:
            raise UsageError(
                f"option -O template: mode {REWARDBENCH2} uses RewardBench 2's two prompts "
                "(mt-bench-single to rate Ties, rewardbench2-4way for the other subsets); to "
                "judge with another template, run -O mode=ratings and -O mode=best-of-4 apart"
            )
        if mode == REWARDBENCH2:
            templates = {sub: load_template(DEFAULT_TEMPLATES[sub], sub) for sub in SUB_MODES[mode]}
        else:
            spec = options.extra.get("template", DEFAULT_TEMPLATES[mode])
            templates = {mode: load_template(spec, mode)}
        return cls(
            mode=mode,
            templates=templates,
            soft=flag(options, "soft"),
            rotations=rotations,
            seed=number(options, "seed", "0", int, 0),
            max_tokens=number(options, "max_tokens", "1024", int, 1),
        )

    def identity(self) -> dict[str, Any]:
        record: dict[str, Any] = {"mode": self.mode}
        if self.mode == REWARDBENCH2:
            record["templates"] = {sub: t.identity() for sub, t in self.templates.items()}
            record["ratings_subsets"] = ["Ties"]
        else:
            record["template"] = self.template.identity()
        record.update(soft=self.soft, temperature=0, seed=self.seed, max_tokens=self.max_tokens)
        if self.rotates:
            record["rotations"] = self.rotations
        return record
