"""Options every judge backend shares: the judging mode, its template, soft verdicts,
best-of-4 rotations, the seed and the reply length; parsed once, with one-line errors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rmbench.errors import UsageError
from rmbench.scorers.base import ScorerOptions
from rmbench.scorers.judge.templates import DEFAULT_TEMPLATES, MODES, JudgeTemplate, load_template

#: ``-O`` keys of every judge scorer.
COMMON_OPTIONS = ("mode", "template", "soft", "rotations", "seed", "max_tokens")


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
    template: JudgeTemplate
    soft: bool
    rotations: int  # best-of-4 only (1 elsewhere)
    seed: int
    max_tokens: int

    @classmethod
    def from_options(cls, options: ScorerOptions) -> JudgeSettings:
        mode = options.extra.get("mode", "pairwise")
        if mode not in MODES:
            raise UsageError(f"option -O mode: {mode!r} is not one of {', '.join(MODES)}")
        rotations = 1
        if mode == "best-of-4":
            rotations = number(options, "rotations", "4", int, 1)
            if rotations > 4:
                raise UsageError(
                    f"option -O rotations: at most 4 (the distinct rotations of 4 responses), "
                    f"got {rotations}"
                )
        elif "rotations" in options.extra:
            raise UsageError(f"option -O rotations: only mode best-of-4 rotates (mode is {mode})")
        return cls(
            mode=mode,
            template=load_template(options.extra.get("template", DEFAULT_TEMPLATES[mode]), mode),
            soft=flag(options, "soft"),
            rotations=rotations,
            seed=number(options, "seed", "0", int, 0),
            max_tokens=number(options, "max_tokens", "1024", int, 1),
        )

    def identity(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "mode": self.mode,
            "template": self.template.identity(),
            "soft": self.soft,
            "temperature": 0,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
        }
        if self.mode == "best-of-4":
            record["rotations"] = self.rotations
        return record
