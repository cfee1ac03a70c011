"""Rendering a tagged response under the chat template and finding each step tag's token.

The conversation is rendered once, with the response re-laid out by :class:`StepFormat`, and
tokenised once with character offsets. Each tag's token is the token that covers the tag's
last character; it is accepted only if it ends exactly where the tag ends and starts no
earlier than the tag starts, i.e. the tokenizer did not merge the tag with the text around it
(the model would then never see the token it was trained to score at). Locating by offsets,
rather than by looking for the tag's token id in the sequence, means a step whose text happens
to contain the tag cannot shift the positions; such a step is refused anyway, because the model
would read a step boundary where there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmbench.errors import ModelError
from rmbench.scorers.base import ScoringItem
from rmbench.scorers.chat_format import ChatFormatter
from rmbench.scorers.prm.steps import StepFormat


@dataclass(frozen=True)
class StepTokens:
    """Token ids of one rendered input and the token position of each step's tag."""

    ids: np.ndarray
    tag_positions: np.ndarray  # int64, increasing, one per step
    steps: tuple[str, ...]

    @property
    def n_steps(self) -> int:
        return len(self.tag_positions)


class StepTokenizer:
    """Renders (prompt, response) with tags after each step and locates the tags' tokens."""

    def __init__(
        self, tokenizer: Any, template: str, fmt: StepFormat, system_prompt: str | None = None
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError(
                "the PRM scorer needs a fast (Rust) tokenizer: it locates step tags by "
                "character offsets, which slow tokenizers do not report"
            )
        self.tokenizer = tokenizer
        self.format = fmt
        # PRMs are often trained under one fixed system message (Qwen2.5-Math-PRM: "Please
        # reason step by step..."); it is added to prompts that bring none of their own.
        self.system_prompt = system_prompt
        self.formatter = ChatFormatter(tokenizer, template)
        if self.formatter.mode == "pair":
            self.formatter.render_prompt([])  # raises the one-line error for 'pair'

    def identity(self) -> dict[str, str]:
        return self.formatter.identity()

    def encode(self, item: ScoringItem) -> StepTokens:
        where = item.ref or item.key
        steps = self.format.split(item.response)
        if not steps:
            raise ModelError(f"the response of {where} has no steps (it is empty or blank)")
        for number, step in enumerate(steps, 1):
            if self.format.tag in step:
                raise ModelError(
                    f"step {number} of {where} contains the step tag {self.format.tag!r}; the "
                    "model would read a step boundary inside it (choose another -O step_tag)"
                )
        content = self.format.tagged(steps)
        prompt = list(item.prompt)
        if self.system_prompt is not None and not (prompt and prompt[0]["role"] == "system"):
            prompt.insert(0, {"role": "system", "content": self.system_prompt})
        full = self.formatter.render(prompt, content.text)
        prompt_text = self.formatter.render_prompt(prompt)
        start = full.text.find(content.text, len(prompt_text))
        if (
            not full.text.startswith(prompt_text)
            or start < 0
            or full.text[len(prompt_text) : start].strip()
        ):
            raise ModelError(
                f"option --chat-template: the template does not write the response of {where} "
                "verbatim right after the prompt, so its step tags cannot be located; choose "
                "another --chat-template"
            )
        encoded = self.tokenizer(
            full.text,
            add_special_tokens=full.add_special_tokens,
            return_offsets_mapping=True,
            verbose=False,
        )
        ids = np.asarray(encoded["input_ids"], dtype=np.int64)
        offsets = np.asarray(encoded["offset_mapping"], dtype=np.int64).reshape(-1, 2)
        owner = np.full(len(full.text), -1, dtype=np.int64)
        for index, (begin, end) in enumerate(offsets.tolist()):
            if end > begin:
                owner[begin:end] = index
        positions = np.empty(len(steps), dtype=np.int64)
        for number, (tag_start, tag_end) in enumerate(content.tag_spans):
            tag_start, tag_end = tag_start + start, tag_end + start
            token = int(owner[tag_end - 1])
            if token < 0 or offsets[token, 1] != tag_end or offsets[token, 0] < tag_start:
                got = full.text[offsets[token, 0] : offsets[token, 1]] if token >= 0 else ""
                raise ModelError(
                    f"the tag after step {number + 1} of {where} is not a token of its own (the "
                    f"tokenizer gives {got!r}); choose a -O step_tag (or -O step_join) that the "
                    "tokenizer keeps apart"
                )
            positions[number] = token
        return StepTokens(ids, positions, tuple(steps))

    def encode_all(self, items: Sequence[ScoringItem]) -> list[StepTokens]:
        return [self.encode(item) for item in items]
