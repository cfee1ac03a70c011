"""Row normalisers: one raw record in, one group of candidates (or a rejection) out.

Each format is a :class:`RowFormat`: the columns it needs, where its rows keep their id, and a
``parse`` function that turns a record into a :class:`ParsedRow` or raises
:class:`~rmbench.data.contract.RowRejected`. :func:`normalize_row` runs ``parse`` and then the
checks every format shares (the pair contract, :func:`~rmbench.data.contract.check_candidates`),
so no format can forget them. Formats are registered by name in :data:`FORMATS`;
:func:`detect_format` picks one from the keys (and value types) of a record.

Prompts become chat message lists ``[{role, content}]`` with roles normalised to ``system`` /
``user`` / ``assistant``; a plain-text prompt is one user message, and an empty one is an empty
context (no turn at all), which is how prompt-less preference data is written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rmbench.data.contract import RowRejected, check_candidates

Message = dict[str, str]

ROLE_ALIASES: dict[str, str] = {
    "system": "system",
    "user": "user",
    "human": "user",
    "prompter": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "chatbot": "assistant",
}


@dataclass(frozen=True)
class Candidate:
    """One response with its gold value; ``column`` says where it came from (for messages)."""

    response: str
    gold: float
    model: str | None
    column: str


@dataclass(frozen=True)
class ParsedRow:
    """A record in the data model's terms, before the loader adds id and provenance."""

    prompt: list[Message]
    candidates: tuple[Candidate, ...]
    gold_kind: str
    subset: str | None = None
    # what a verifier checks the responses against (a gold answer, unit tests); only a
    # column mapping with a ``reference`` role sets it
    reference: str | None = None


@dataclass(frozen=True)
class RowFormat:
    """A named row layout: which columns it needs, where its id lives, how to parse a row."""

    name: str
    description: str
    required: tuple[str, ...]
    parse: Callable[[Mapping[str, Any]], ParsedRow]
    id_column: str | None = None  # the format's own id field, used when present
    id_required: bool = False
    one_of: tuple[str, ...] = ()  # at least one of these columns must exist (label columns)

    def missing_columns(self, record: Mapping[str, Any]) -> list[str]:
        """Columns this format needs that ``record`` lacks (a whole-source error, not a row's)."""
        missing = [c for c in self.required if c not in record]
        if self.id_required and self.id_column and self.id_column not in record:
            missing.append(self.id_column)
        if self.one_of and not any(c in record for c in self.one_of):
            missing.append(" or ".join(self.one_of))
        return missing


# -- field helpers ---------------------------------------------------------------------------
def _type_name(value: Any) -> str:
    return type(value).__name__


def require(record: Mapping[str, Any], column: str) -> Any:
    """The value of a required column; absent or null rejects the row as ``missing_value``."""
    value = record.get(column)
    if value is None:
        raise RowRejected("missing_value", f"{column} is null or absent", column)
    return value


def require_str(record: Mapping[str, Any], column: str) -> str:
    value = require(record, column)
    if not isinstance(value, str):
        raise RowRejected("malformed", f"{column} must be text, got {_type_name(value)}", column)
    return value


def optional_str(record: Mapping[str, Any], column: str) -> str | None:
    """An optional text column: absent, null or blank -> None; another type -> malformed."""
    value = record.get(column)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowRejected("malformed", f"{column} must be text, got {_type_name(value)}", column)
    return value if value.strip() else None


def to_message(value: Any, column: str, index: int) -> Message:
    """One chat message: ``{role, content}`` (or ShareGPT's ``{from, value}``), role normalised."""
    where = f"{column}[{index}]"
    if not isinstance(value, Mapping):
        raise RowRejected("malformed", f"{where} is not a message object", column)
    role = value.get("role", value.get("from"))
    content = value.get("content", value.get("value"))
    if not isinstance(role, str) or role.strip().lower() not in ROLE_ALIASES:
        raise RowRejected("malformed", f"{where} has unknown role {role!r}", column)
    if not isinstance(content, str):
        raise RowRejected(
            "malformed", f"{where} content must be text, got {_type_name(content)}", column
        )
    return {"role": ROLE_ALIASES[role.strip().lower()], "content": content}


def to_messages(value: Any, column: str) -> list[Message]:
    """A prompt as messages: text is one user turn (empty text: no turn), a list is checked."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}] if value.strip() else []
    if isinstance(value, Sequence):
        return [to_message(m, column, i) for i, m in enumerate(value)]
    raise RowRejected(
        "malformed", f"{column} must be text or a message list, got {_type_name(value)}", column
    )


def _pair(
    prompt: list[Message],
    chosen: str,
    rejected: str,
    *,
    columns: tuple[str, str] = ("chosen", "rejected"),
    models: tuple[str | None, str | None] = (None, None),
    subset: str | None = None,
) -> ParsedRow:
    """A pairwise group: candidate 0 is the preferred response (gold 1.0), 1 the other (0.0)."""
    return ParsedRow(
        prompt,
        (
            Candidate(chosen, 1.0, models[0], columns[0]),
            Candidate(rejected, 0.0, models[1], columns[1]),
        ),
        "pairwise",
        subset,
    )


# -- standard / rewardbench ------------------------------------------------------------------
def parse_standard(record: Mapping[str, Any]) -> ParsedRow:
    """``prompt`` (text or messages), ``chosen``, ``rejected`` text; optional ``subset`` and
    ``chosen_model`` / ``rejected_model``."""
    prompt = to_messages(require(record, "prompt"), "prompt")
    return _pair(
        prompt,
        require_str(record, "chosen"),
        require_str(record, "rejected"),
        models=(optional_str(record, "chosen_model"), optional_str(record, "rejected_model")),
        subset=optional_str(record, "subset"),
    )


# -- conversational (TRL) --------------------------------------------------------------------
def _conversation_side(record: Mapping[str, Any], column: str) -> tuple[list[Message], str]:
    """Split one side into (extra context, assistant reply): the reply is the last message."""
    value = require(record, column)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise RowRejected(
            "malformed",
            f"{column} must be a message list, got {_type_name(value)}"
            " (plain-text pairs are format 'standard')",
            column,
        )
    messages = to_messages(value, column)
    if not messages:
        raise RowRejected("malformed", f"{column} is an empty message list", column)
    if messages[-1]["role"] != "assistant":
        raise RowRejected(
            "malformed", f"{column} ends with a {messages[-1]['role']} turn, not the reply", column
        )
    return messages[:-1], messages[-1]["content"]


def parse_conversational(record: Mapping[str, Any]) -> ParsedRow:
    """TRL preference data in chat form.

    Explicit prompt: ``prompt`` is the context and ``chosen`` / ``rejected`` hold the reply.
    Implicit prompt: ``chosen`` / ``rejected`` are whole conversations. Both cases are one rule:
    the context is ``prompt`` plus everything before each side's last (assistant) message, and
    it must be the same on both sides.
    """
    prompt_value = record.get("prompt")
    prompt = [] if prompt_value is None else to_messages(prompt_value, "prompt")
    chosen_context, chosen = _conversation_side(record, "chosen")
    rejected_context, rejected = _conversation_side(record, "rejected")
    if chosen_context != rejected_context:
        raise RowRejected("context_mismatch", "the conversations before the last reply differ")
    return _pair(
        prompt + chosen_context,
        chosen,
        rejected,
        models=(optional_str(record, "chosen_model"), optional_str(record, "rejected_model")),
        subset=optional_str(record, "subset"),
    )


# -- Anthropic HH transcripts ----------------------------------------------------------------
HH_HUMAN = "\n\nHuman:"
HH_ASSISTANT = "\n\nAssistant:"
_HH_TURN = re.compile(r"\n\n(Human|Assistant):")


def _hh_canonical(text: str, column: str) -> str:
    """The transcript with its leading whitespace made the format's ``\\n\\n`` before the first
    marker (some copies drop or pad it); anything else before ``Human:`` is malformed."""
    body = text.lstrip()
    if not body.startswith("Human:"):
        raise RowRejected("malformed", f"{column} does not start with a 'Human:' turn", column)
    return "\n\n" + body


def _hh_turn_text(text: str) -> str:
    """A turn's text without the one space the format puts after ``Human:`` / ``Assistant:``."""
    return text[1:] if text.startswith(" ") else text


def _hh_turns(context: str) -> list[Message]:
    parts = _HH_TURN.split(context)
    roles = {"Human": "user", "Assistant": "assistant"}
    return [
        {"role": roles[marker], "content": _hh_turn_text(text)}
        for marker, text in zip(parts[1::2], parts[2::2], strict=True)
    ]


def parse_hh(record: Mapping[str, Any]) -> ParsedRow:
    """Anthropic HH-RLHF: ``chosen`` / ``rejected`` are whole ``\\n\\nHuman: … \\n\\nAssistant: …``
    transcripts that share all but the last reply.

    The prompt is the two transcripts' common prefix up to and including the last
    ``\\n\\nAssistant:`` marker inside it; each side's response is the rest. Using the *shared*
    prefix (not each transcript's own last marker) matters: some HH replies contain a literal
    ``\\n\\nAssistant:`` the model generated (5 rows of harmless-base test), and splitting there
    would invent a context mismatch. A response that contains ``\\n\\nHuman:`` means the
    transcripts already differ before the last human turn: ``context_mismatch``. Only what the
    format implies is stripped: the blank line before the first marker and the one space after
    each marker; an empty final reply (``Assistant: `` and nothing else) stays empty and is
    rejected as ``empty_response`` by the shared checks.
    """
    chosen = _hh_canonical(require_str(record, "chosen"), "chosen")
    rejected = _hh_canonical(require_str(record, "rejected"), "rejected")
    shared = os.path.commonprefix([chosen, rejected])  # noqa: RUF071 - text, not paths
    cut = shared.rfind(HH_ASSISTANT)
    if cut < 0:
        raise RowRejected(
            "malformed", "the transcripts share no 'Assistant:' turn to split the reply at"
        )
    end = cut + len(HH_ASSISTANT)
    responses = (chosen[end:], rejected[end:])
    for column, response in zip(("chosen", "rejected"), responses, strict=True):
        if HH_HUMAN in response:
            raise RowRejected(
                "context_mismatch",
                f"the transcripts differ before the last Human turn ({column} continues the"
                " dialogue)",
                column,
            )
    prompt = _hh_turns(chosen[:cut])
    return _pair(prompt, _hh_turn_text(responses[0]), _hh_turn_text(responses[1]))


# -- A/B preference with a label -------------------------------------------------------------
LABEL_COLUMNS: tuple[str, ...] = ("winner", "label", "preference")
_A_WINS = frozenset({"a", "model_a", "response_a", "0"})
_B_WINS = frozenset({"b", "model_b", "response_b", "1"})
_TIES = frozenset(
    {"tie", "tie (bothbad)", "tie(bothbad)", "both_bad", "bothbad", "both bad", "equal", "draw"}
)


def preference_label(value: Any) -> str:
    """``"a"`` or ``"b"`` for the better response, else raise ``tie`` / ``abstention``."""
    if isinstance(value, bool):  # True/False say nothing about which side won
        raise RowRejected("abstention", f"label {value!r} is not a side")
    if isinstance(value, int | float) and value in (0, 1):
        return "a" if value == 0 else "b"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _A_WINS:
            return "a"
        if text in _B_WINS:
            return "b"
        if text in _TIES:
            raise RowRejected("tie", f"label {value!r}")
    if value is None:
        raise RowRejected("abstention", "no label")
    raise RowRejected("abstention", f"label {value!r} is not a recognised preference")


def parse_preference(record: Mapping[str, Any]) -> ParsedRow:
    """``prompt``, ``response_a``, ``response_b`` and a label (``winner``, ``label`` or
    ``preference``, first present wins); stored with the preferred response first."""
    column = next((c for c in LABEL_COLUMNS if c in record), LABEL_COLUMNS[0])
    try:
        side = preference_label(record.get(column))
    except RowRejected as exc:
        raise RowRejected(exc.reason, exc.detail, column) from None
    prompt = to_messages(require(record, "prompt"), "prompt")
    a = require_str(record, "response_a")
    b = require_str(record, "response_b")
    model_a, model_b = optional_str(record, "model_a"), optional_str(record, "model_b")
    subset = optional_str(record, "subset")
    if side == "a":
        return _pair(
            prompt,
            a,
            b,
            columns=("response_a", "response_b"),
            models=(model_a, model_b),
            subset=subset,
        )
    return _pair(
        prompt,
        b,
        a,
        columns=("response_b", "response_a"),
        models=(model_b, model_a),
        subset=subset,
    )


# -- RMB (Zhou et al.) -----------------------------------------------------------------------
def _rmb_answer(value: Any, column: str) -> tuple[str, str | None]:
    """An RMB response object ``{llm_name, answer}`` -> (answer, llm_name)."""
    if not isinstance(value, Mapping):
        raise RowRejected("malformed", f"{column} must be an {{llm_name, answer}} object", column)
    answer = value.get("answer")
    if answer is None:
        raise RowRejected("missing_value", f"{column}.answer is null or absent", column)
    if not isinstance(answer, str):
        raise RowRejected(
            "malformed", f"{column}.answer must be text, got {_type_name(answer)}", column
        )
    name = value.get("llm_name")
    return answer, name if isinstance(name, str) and name.strip() else None


def _rmb_context(record: Mapping[str, Any]) -> list[Message]:
    value = require(record, "conversation_input")
    if isinstance(value, str):
        raise RowRejected(
            "malformed", "conversation_input must be a message list", "conversation_input"
        )
    return to_messages(value, "conversation_input")


def parse_rmb_pairwise(record: Mapping[str, Any]) -> ParsedRow:
    """RMB pairwise: ``conversation_input`` context, ``chosen`` / ``reject`` answers;
    ``category_path`` (e.g. ``Harmlessness/S1``) is the subset, ``llm_name`` the model."""
    prompt = _rmb_context(record)
    chosen, chosen_model = _rmb_answer(require(record, "chosen"), "chosen")
    rejected, rejected_model = _rmb_answer(require(record, "reject"), "reject")
    return _pair(
        prompt,
        chosen,
        rejected,
        columns=("chosen", "reject"),
        models=(chosen_model, rejected_model),
        subset=optional_str(record, "category_path"),
    )


def parse_rmb_bon(record: Mapping[str, Any]) -> ParsedRow:
    """RMB best-of-N: ``bon_best`` (gold 1.0) first, then each of ``loser_list`` (gold 0.0)."""
    prompt = _rmb_context(record)
    best_value = record.get("bon_best")
    if best_value is None:
        raise RowRejected("no_correct_answer", "bon_best is null or absent", "bon_best")
    best, best_model = _rmb_answer(best_value, "bon_best")
    losers = require(record, "loser_list")
    if isinstance(losers, str | Mapping) or not isinstance(losers, Sequence):
        raise RowRejected("malformed", "loser_list must be a list", "loser_list")
    candidates = [Candidate(best, 1.0, best_model, "bon_best")]
    for i, loser in enumerate(losers):
        column = f"loser_list[{i}]"
        answer, model = _rmb_answer(loser, column)
        candidates.append(Candidate(answer, 0.0, model, column))
    return ParsedRow(prompt, tuple(candidates), "best_of_n", optional_str(record, "category_path"))


def parse_rmb(record: Mapping[str, Any]) -> ParsedRow:
    """Either RMB file kind, told apart per row (``bon_best`` marks best-of-N), so the whole
    ``RMB_dataset`` directory, pairwise and best-of-N files together, loads in one pass."""
    if "bon_best" in record or "loser_list" in record:
        return parse_rmb_bon(record)
    return parse_rmb_pairwise(record)


# -- lists of chosen and rejected responses (RewardBench 2, RM-Bench) ------------------------
def _text_list(record: Mapping[str, Any], column: str) -> list[str]:
    """A column holding a list of response texts; anything else rejects the row."""
    value = require(record, column)
    if isinstance(value, str | Mapping) or not isinstance(value, Sequence):
        raise RowRejected("malformed", f"{column} must be a list of texts", column)
    for i, item in enumerate(value):
        if item is None:
            raise RowRejected("missing_value", f"{column}[{i}] is null", column)
        if not isinstance(item, str):
            raise RowRejected(
                "malformed", f"{column}[{i}] must be text, got {_type_name(item)}", column
            )
    return list(value)


def _chosen_rejected_lists(record: Mapping[str, Any]) -> tuple[Candidate, ...]:
    """Every chosen text (gold 1.0) followed by every rejected one (gold 0.0), in list order:
    suites read meaning from the position (RewardBench 2: ``chosen[0]`` is the reference
    answer; RM-Bench: index = style)."""
    chosen = _text_list(record, "chosen")
    rejected = _text_list(record, "rejected")
    if not chosen:
        raise RowRejected("no_correct_answer", "chosen is an empty list", "chosen")
    return tuple(
        [Candidate(t, 1.0, None, f"chosen[{i}]") for i, t in enumerate(chosen)]
        + [Candidate(t, 0.0, None, f"rejected[{i}]") for i, t in enumerate(rejected)]
    )


def parse_rewardbench2(record: Mapping[str, Any]) -> ParsedRow:
    """RewardBench 2: ``prompt`` text, ``chosen`` and ``rejected`` lists (best-of-4: one chosen,
    three rejected; the Ties subset has several chosen), ``subset``. ``num_correct``, when
    present, must equal the number of chosen texts, since the authors' scorer trusts it."""
    prompt = to_messages(require(record, "prompt"), "prompt")
    candidates = _chosen_rejected_lists(record)
    n_correct = record.get("num_correct")
    n_chosen = sum(1 for c in candidates if c.gold == 1.0)
    if n_correct is not None and n_correct != n_chosen:
        raise RowRejected(
            "malformed", f"num_correct is {n_correct} but chosen has {n_chosen}", "num_correct"
        )
    return ParsedRow(prompt, candidates, "best_of_n", optional_str(record, "subset"))


def parse_rm_bench(record: Mapping[str, Any]) -> ParsedRow:
    """RM-Bench: ``prompt`` text, ``chosen`` and ``rejected`` lists of 3 responses each in the
    styles [concise, detailed plain, detailed markdown]. The subset is left to the loader (the
    file: RM-Bench's domain), since the rows' own ``subset`` names the source benchmark."""
    prompt = to_messages(require(record, "prompt"), "prompt")
    candidates = _chosen_rejected_lists(record)
    n_chosen = sum(1 for c in candidates if c.gold == 1.0)
    if n_chosen != 3 or len(candidates) != 6:
        raise RowRejected(
            "malformed",
            f"RM-Bench rows have 3 chosen and 3 rejected responses, got {n_chosen} and "
            f"{len(candidates) - n_chosen}",
        )
    return ParsedRow(prompt, candidates, "best_of_n", None)


# -- registry --------------------------------------------------------------------------------
REWARDBENCH_COLUMNS: tuple[str, ...] = (
    "prompt",
    "chosen",
    "chosen_model",
    "rejected",
    "rejected_model",
    "subset",
    "id",
)

FORMATS: dict[str, RowFormat] = {
    f.name: f
    for f in (
        RowFormat(
            "standard",
            "prompt (text or messages), chosen, rejected; optional id, subset, *_model",
            ("prompt", "chosen", "rejected"),
            parse_standard,
            id_column="id",
        ),
        RowFormat(
            "rewardbench",
            "RewardBench: prompt, chosen, chosen_model, rejected, rejected_model, subset, id",
            REWARDBENCH_COLUMNS,
            parse_standard,
            id_column="id",
            id_required=True,
        ),
        RowFormat(
            "conversational",
            "TRL chat pairs: chosen/rejected message lists, with or without a prompt",
            ("chosen", "rejected"),
            parse_conversational,
            id_column="id",
        ),
        RowFormat(
            "hh",
            "Anthropic HH: chosen/rejected '\\n\\nHuman: ... \\n\\nAssistant: ...' transcripts",
            ("chosen", "rejected"),
            parse_hh,
            id_column="id",
        ),
        RowFormat(
            "preference",
            "prompt, response_a, response_b and a winner/label/preference column",
            ("prompt", "response_a", "response_b"),
            parse_preference,
            id_column="id",
            one_of=LABEL_COLUMNS,
        ),
        RowFormat(
            "rmb_pairwise",
            "RMB pairwise: pair_uid, conversation_input, chosen, reject, category_path",
            ("conversation_input", "chosen", "reject"),
            parse_rmb_pairwise,
            id_column="pair_uid",
        ),
        RowFormat(
            "rmb_bon",
            "RMB best-of-N: bon_uid, conversation_input, bon_best, loser_list, category_path",
            ("conversation_input", "bon_best", "loser_list"),
            parse_rmb_bon,
            id_column="bon_uid",
        ),
    )
}


#: Formats of whole benchmarks, which their suites name explicitly (never auto-detected, and
#: kept apart from :data:`FORMATS` so the general loader's choices stay as documented).
BENCHMARK_FORMATS: dict[str, RowFormat] = {
    f.name: f
    for f in (
        RowFormat(
            "rmb",
            "RMB pairwise and best-of-N files together (kind decided per row; ids file:row)",
            ("conversation_input",),
            parse_rmb,
        ),
        RowFormat(
            "rewardbench2",
            "RewardBench 2: id, prompt, chosen (list), rejected (list), subset; num_correct",
            ("prompt", "chosen", "rejected"),
            parse_rewardbench2,
            id_column="id",
        ),
        RowFormat(
            "rm_bench",
            "RM-Bench: prompt, chosen and rejected lists of 3 styles each (ids per file)",
            ("prompt", "chosen", "rejected"),
            parse_rm_bench,
        ),
    )
}


def detect_format(record: Any) -> str | None:
    """The format a record is written in, from its keys (and the type of ``chosen``), or None.

    Most specific first: RMB's keys are unique to it; ``response_a``/``response_b`` mean an A/B
    label; message-list ``chosen`` means chat pairs; text pairs are RewardBench when they carry
    its full schema, ``standard`` with a prompt, and HH transcripts without one.
    """
    if not isinstance(record, Mapping):
        return None
    keys = set(record)
    if {"conversation_input", "bon_best", "loser_list"} <= keys:
        return "rmb_bon"
    if {"conversation_input", "chosen", "reject"} <= keys:
        return "rmb_pairwise"
    if {"response_a", "response_b"} <= keys:
        return "preference"
    if not {"chosen", "rejected"} <= keys:
        return None
    chosen = record["chosen"]
    if isinstance(chosen, list) and all(isinstance(m, Mapping) for m in chosen):
        return "conversational"
    if chosen is not None and not isinstance(chosen, str):
        return None
    if "prompt" in keys:
        return "rewardbench" if set(REWARDBENCH_COLUMNS) <= keys else "standard"
    if chosen is None or "Assistant:" in chosen:
        return "hh"
    return None


# -- one row ---------------------------------------------------------------------------------
def row_id(record: Mapping[str, Any], fmt: RowFormat, id_column: str | None = None) -> str | None:
    """The row's own id as text (``id_column`` if given, else the format's id field), or None
    when it has none. A required id that is missing, or an id of another type, rejects."""
    column = id_column or fmt.id_column
    if column is None:
        return None
    value = record.get(column)
    required = id_column is not None or fmt.id_required
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Parquet/pandas turn int ids with gaps into floats
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
        raise RowRejected("malformed", f"id {column} must be text or an integer", column)
    text = None if value is None else str(value).strip()
    if not text:
        if required:
            raise RowRejected("missing_value", f"id {column} is null or absent", column)
        return None
    return text


def normalize_row(record: Any, fmt: RowFormat) -> ParsedRow:
    """Parse one record with ``fmt`` and apply the pair contract; raise RowRejected if unfit."""
    if not isinstance(record, Mapping):
        raise RowRejected("malformed", f"row is a {_type_name(record)}, not an object")
    parsed = fmt.parse(record)
    check_candidates(
        [c.response for c in parsed.candidates],
        [c.gold for c in parsed.candidates],
        [c.column for c in parsed.candidates],
        parsed.gold_kind,
    )
    return parsed
