"""Judge prompts, and how question and answers are put into them as data.

A template is a system message and a user message with placeholders; which placeholders it has
depends on the judging mode (:data:`PLACEHOLDERS`):

* ``pairwise``: ``{question}``, ``{answer_a}``, ``{answer_b}``; the judge ends with ``[[A]]``,
  ``[[B]]`` or (when the template allows ties) ``[[C]]``;
* ``ratings``: ``{question}``, ``{answer}``; the judge ends with ``[[rating]]``, 1 to 10;
* ``best-of-4``: ``{question}``, ``{answer_a}`` .. ``{answer_d}``; the judge ends with
  ``[[A]]`` .. ``[[D]]``, the best of the four.

Built in:

* ``mt-bench``: MT-Bench's pairwise prompt (FastChat ``pair-v2``; Zheng et al., 2023), with ties;
* ``mt-bench-no-tie``: the same without the tie option, as RewardBench's generative judges ask;
* ``mt-bench-single``: MT-Bench's single-answer grading prompt (FastChat ``single-v1``);
* ``rewardbench2-4way``: RewardBench 2's four-way prompt (``rewardbench/generative_v2.py``),
  MT-Bench's pairwise prompt extended to four assistants.

Your own template is a TOML file (``-O template=FILE.toml``) with ``user`` (required; each
placeholder of the mode exactly once), optional ``system`` and ``name``.

**Candidates are data.** A response may contain anything, including ``[[B]]``, a fake
``[The End of Assistant A's Answer]`` or instructions to the judge. Two rules keep it from
closing or rewriting the template:

* every inserted value is fenced in its own Markdown code block whose fence is longer than any
  run of backticks inside the value (CommonMark: a block closes only at a fence at least as
  long as the one that opened it), so nothing in a value can end its block, and the template's
  own delimiters around the block stay outside it;
* placeholders are filled in one pass over the template's text, so a value that contains
  ``{answer_b}`` is never expanded.

Verdicts are read only from the judge's reply (:mod:`rmbench.scorers.judge.verdicts`), never
from the prompt. Nothing in the prompt can stop a judge model from being *persuaded* by an
answer; fencing makes it unambiguous what is data, and judging both orders makes a persuaded
judge disagree with itself, which is counted and reported.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rmbench.errors import UsageError

#: The placeholders of each judging mode, in the order their values are given to :func:`render`.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "pairwise": ("question", "answer_a", "answer_b"),
    "ratings": ("question", "answer"),
    "best-of-4": ("question", "answer_a", "answer_b", "answer_c", "answer_d"),
}
MODES = tuple(PLACEHOLDERS)
_PLACEHOLDER = re.compile(r"\{(question|answer|answer_[abcd])\}")
_ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant"}

_MT_BENCH_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two "
    "AI assistants to the user question displayed below. You should choose the assistant that "
    "follows the user's instructions and answers the user's question better. Your evaluation "
    "should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, "
    "and level of detail of their responses. Begin your evaluation by comparing the two "
    "responses and provide a short explanation. Avoid any position biases and ensure that the "
    "order in which the responses were presented does not influence your decision. Do not allow "
    "the length of the responses to influence your evaluation. Do not favor certain names of the "
    "assistants. Be as objective as possible. After providing your explanation, output your "
    'final verdict by strictly following this format: "[[A]]" if assistant A is better, '
    '"[[B]]" if assistant B is better'
)
_MT_BENCH_USER = (
    "[User Question]\n{question}\n\n"
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
)


_MT_BENCH_SINGLE_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors "
    "such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the "
    "response. Begin your evaluation by providing a short explanation. Be as objective as "
    "possible. After providing your explanation, you must rate the response on a scale of 1 to "
    '10 by strictly following this format: "[[rating]]", for example: "Rating: [[5]]".'
)
_MT_BENCH_SINGLE_USER = (
    "[Question]\n{question}\n\n"
    "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)
_FOUR_WAY_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by four "
    "AI assistants to the user question displayed below. You should choose the assistant that "
    "follows the user's instructions and answers the user's question best. Your evaluation "
    "should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, "
    "and level of detail of their responses. Begin your evaluation by comparing the four "
    "responses and provide a short explanation. Avoid any position biases and ensure that the "
    "order in which the responses were presented does not influence your decision. Do not allow "
    "the length of the responses to influence your evaluation. Do not favor certain names of the "
    "assistants. Be as objective as possible. After providing your explanation, output your "
    'final verdict by strictly following this format: "[[A]]" if assistant A is best, "[[B]]" if '
    'assistant B is best, "[[C]]" if assistant C is best, and "[[D]]" if assistant D is best.'
)
_FOUR_WAY_USER = "[User Question]\n{question}" + "".join(
    f"\n\n[The Start of Assistant {x}'s Answer]\n{{answer_{x.lower()}}}\n"
    f"[The End of Assistant {x}'s Answer]"
    for x in "ABCD"
)


@dataclass(frozen=True)
class JudgeTemplate:
    name: str
    system: str
    user: str
    mode: str = "pairwise"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.system}\0{self.user}".encode()).hexdigest()[:16]

    def identity(self) -> dict[str, str]:
        return {"name": self.name, "sha256": self.sha256}


BUILTIN_TEMPLATES = {
    "mt-bench": JudgeTemplate(
        "mt-bench", _MT_BENCH_SYSTEM + ', and "[[C]]" for a tie.', _MT_BENCH_USER
    ),
    "mt-bench-no-tie": JudgeTemplate("mt-bench-no-tie", _MT_BENCH_SYSTEM + ".", _MT_BENCH_USER),
    "mt-bench-single": JudgeTemplate(
        "mt-bench-single", _MT_BENCH_SINGLE_SYSTEM, _MT_BENCH_SINGLE_USER, "ratings"
    ),
    "rewardbench2-4way": JudgeTemplate(
        "rewardbench2-4way", _FOUR_WAY_SYSTEM, _FOUR_WAY_USER, "best-of-4"
    ),
}
#: The template a mode uses unless ``-O template`` names another.
DEFAULT_TEMPLATES = {
    "pairwise": "mt-bench",
    "ratings": "mt-bench-single",
    "best-of-4": "rewardbench2-4way",
}


def _check(template: JudgeTemplate, where: str) -> JudgeTemplate:
    wanted = PLACEHOLDERS[template.mode]
    for name in sorted(set(_PLACEHOLDER.findall(template.user)) - set(wanted)):
        raise UsageError(
            f"{where}: `user` has {{{name}}}, which mode {template.mode!r} does not fill "
            f"(its placeholders: {', '.join('{' + p + '}' for p in wanted)})"
        )
    for name in wanted:
        count = template.user.count("{" + name + "}")
        if count != 1:
            raise UsageError(
                f"{where}: `user` must contain {{{name}}} exactly once (found {count} times)"
            )
    if _PLACEHOLDER.search(template.system):
        raise UsageError(f"{where}: `system` must not contain placeholders; put them in `user`")
    return template


def load_template(spec: str, mode: str = "pairwise") -> JudgeTemplate:
    """A built-in template by name, or one read from a TOML file, for judging ``mode``;
    errors name the option."""
    if spec in BUILTIN_TEMPLATES:
        template = BUILTIN_TEMPLATES[spec]
        if template.mode != mode:
            fitting = ", ".join(n for n, t in BUILTIN_TEMPLATES.items() if t.mode == mode)
            raise UsageError(
                f"option -O template: {spec!r} is a {template.mode} template; mode {mode!r} "
                f"needs one of its own ({fitting}, or a TOML file)"
            )
        return template
    path = Path(spec)
    if not path.is_file():
        raise UsageError(
            f"option -O template: {spec!r} is neither a built-in template "
            f"({', '.join(BUILTIN_TEMPLATES)}) nor an existing TOML file"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"option -O template: {path}: not valid TOML ({error})") from None
    unknown = sorted(set(data) - {"name", "system", "user"})
    if unknown:
        raise UsageError(
            f"option -O template: {path}: unknown key {unknown[0]!r} (keys: name, system, user)"
        )
    for key in ("name", "system", "user"):
        if key in data and not isinstance(data[key], str):
            raise UsageError(f"option -O template: {path}: `{key}` must be a string")
    if "user" not in data:
        raise UsageError(f"option -O template: {path}: `user` is required")
    template = JudgeTemplate(
        data.get("name", path.stem), data.get("system", ""), data["user"], mode
    )
    return _check(template, f"option -O template: {path}")


def fence(text: str, info: str = "text") -> str:
    """``text`` in a fenced code block that nothing inside ``text`` can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text}\n{ticks}"


def question_text(prompt: Sequence[dict[str, str]]) -> str:
    """The context the answers respond to: the user's message, or the whole conversation."""
    if len(prompt) == 1 and prompt[0]["role"] == "user":
        return prompt[0]["content"]
    return "\n\n".join(f"{_ROLE_NAMES.get(m['role'], m['role'])}: {m['content']}" for m in prompt)


def render(
    template: JudgeTemplate, prompt: Sequence[dict[str, str]], *answers: str
) -> list[dict[str, str]]:
    """The chat messages sent to the judge: ``answers`` fill the mode's answer placeholders in
    order (A then B for a pairwise comparison, the one answer of a rating, A..D of best-of-4)."""
    names = PLACEHOLDERS[template.mode][1:]
    if len(answers) != len(names):
        raise ValueError(f"a {template.mode} template takes {len(names)} answers")
    values = {"question": fence(question_text(prompt))}
    values.update((name, fence(answer)) for name, answer in zip(names, answers, strict=True))
    user = _PLACEHOLDER.sub(lambda match: values[match.group(1)], template.user)
    messages = [{"role": "system", "content": template.system}] if template.system else []
    messages.append({"role": "user", "content": user})
    return messages
