"""``judge-local``: the judge is a local ``AutoModelForCausalLM``, run with transformers.

The backend only generates; modes, templates, verdict parsing and soft reading are the ones
``judge-openai`` uses. What it does:

* **prompts** are the judge messages laid out by the model's chat template with a generation
  prompt (``--chat-template`` chooses another layout, as for every causal-LM scorer);
* **batched greedy generation**: rows are left-padded (so every row's reply starts at the same
  column) with an attention mask, packed longest first within ``--max-batch-size`` rows and a
  ``--max-tokens-per-batch`` budget of rows x (longest prompt + ``-O max_tokens``); decoding is
  greedy (temperature 0, no penalties, whatever the checkpoint's ``generation_config`` says)
  after ``torch.manual_seed(seed)``, so a rerun writes the same replies;
* **soft verdicts** from the model's logits: for a reply with a verdict, one extra forward pass
  over prompt + reply up to the verdict token gives the log-probabilities of every vocabulary
  token at the verdict position (:mod:`.soft` defines the position and which tokens count for
  which verdict). The pass is right-padded, so a row's logits do not depend on its batch.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from rmbench.errors import ModelError, ScoringError, UsageError
from rmbench.scorers.base import ScorerOptions
from rmbench.scorers.batching import pack_by_token_budget, padded_batch
from rmbench.scorers.judge.openai_client import ChatResult
from rmbench.scorers.judge.options import COMMON_OPTIONS, JudgeSettings
from rmbench.scorers.judge.scorer import JudgeScorer
from rmbench.scorers.judge.soft import (
    SoftTarget,
    chosen_value_complete,
    token_span,
    value_of_token,
)

SCORER_NAME = "judge-local"


class LocalBackend:
    """Greedy batched generation with a causal LM (see the module doc)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        formatter: Any,
        device: Any,
        settings: JudgeSettings,
        max_batch_size: int,
        max_tokens_per_batch: int,
        soft: SoftTarget | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.formatter = formatter
        self.device = device
        self.settings = settings
        self.max_batch_size = max_batch_size
        self.max_tokens_per_batch = max_tokens_per_batch
        self.soft = soft
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.pad_id = tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = next(iter(sorted(self.eos_ids)), None)
        if self.pad_id is None:
            raise ModelError(
                f"scorer {SCORER_NAME!r}: the tokenizer has neither a pad nor an end-of-sequence "
                "token, so replies cannot be batched or ended"
            )
        self.max_length = getattr(model.config, "max_position_embeddings", None)
        self._vocab: list[str] | None = None
        self._candidates: dict[tuple[str, tuple[str, ...]], tuple[list[int], list[str]]] = {}

    # ------------------------------------------------------------------ prompts

    def encode(self, messages: list[dict[str, str]]) -> list[int]:
        text = self.formatter.render_prompt(messages)
        bos = getattr(self.tokenizer, "bos_token", None)
        adds_own = bool(bos) and text.startswith(bos)
        return list(self.tokenizer(text, add_special_tokens=not adds_own)["input_ids"])

    # ------------------------------------------------------------------ generation

    def run(
        self, jobs: Iterable[tuple[Any, list[dict[str, str]]]], soft: SoftTarget | None = None
    ) -> Iterator[tuple[Any, ChatResult]]:
        """Replies to ``jobs``, a window of ``4 x max_batch_size`` jobs at a time (so sets
        finish, and reach the cache, as the run goes), longest prompts first within a window.
        ``soft``: the verdicts to read soft from these replies (default: the backend's own).

        Every prompt is tokenised and checked against the model's context before anything is
        generated, so a prompt that cannot fit fails the run before it costs anything.
        """
        keys, encoded = [], []
        for key, messages in jobs:
            ids = self.encode(messages)
            if self.max_length and len(ids) + self.settings.max_tokens > self.max_length:
                raise ScoringError(
                    f"{SCORER_NAME}: a judge prompt has {len(ids)} tokens; with -O max_tokens="
                    f"{self.settings.max_tokens} it exceeds the model's {self.max_length} "
                    "positions (lower -O max_tokens or use a model with a longer context)"
                )
            keys.append(key)
            encoded.append(np.asarray(ids, dtype=np.int64))
        window = 4 * self.max_batch_size
        for start in range(0, len(keys), window):
            part = range(start, min(start + window, len(keys)))
            lengths = np.array([len(encoded[i]) + self.settings.max_tokens for i in part])
            for batch in pack_by_token_budget(
                lengths, self.max_tokens_per_batch, self.max_batch_size
            ):
                rows = [encoded[start + i].tolist() for i in batch]
                for i, reply in zip(batch, self.generate(rows, soft or self.soft), strict=True):
                    yield keys[start + i], reply

    def generate(
        self, rows: Sequence[list[int]], soft: SoftTarget | None = None
    ) -> list[ChatResult]:
        import torch
        from transformers import GenerationConfig

        input_ids, attention = padded_batch(rows, self.pad_id, left=True)
        width = input_ids.shape[1]
        config = GenerationConfig(
            max_new_tokens=self.settings.max_tokens,
            do_sample=False,
            num_beams=1,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            pad_token_id=self.pad_id,
            eos_token_id=sorted(self.eos_ids) or None,
        )
        torch.manual_seed(self.settings.seed)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                generation_config=config,
            )
        replies = []
        for r, ids in enumerate(rows):
            generated = out[r, width:].tolist()
            end = next((k for k, t in enumerate(generated) if t in self.eos_ids), None)
            completion = len(generated) if end is None else end + 1
            reply_ids = generated if end is None else generated[:end]
            replies.append((ids, reply_ids, completion))
        return self._results(replies, soft)

    def _results(
        self, replies: list[tuple[list[int], list[int], int]], soft: SoftTarget | None
    ) -> list[ChatResult]:
        results = []
        queries: list[tuple[int, list[int], int, str]] = []  # (row, ids up to verdict, k, prefix)
        for r, (prompt_ids, reply_ids, completion) in enumerate(replies):
            text = self.tokenizer.decode(reply_ids, skip_special_tokens=True)
            pieces: tuple[str, ...] = ()
            if soft is not None:
                pieces = self._pieces(reply_ids)
                position = self._verdict_position(pieces, soft)
                if position is not None:
                    k, prefix = position
                    queries.append((r, prompt_ids + reply_ids[:k], k, prefix))
            results.append(ChatResult(text, len(prompt_ids), completion, 1, pieces))
        if queries:
            assert soft is not None
            alternatives = self._alternatives(
                [(ids, prefix) for _, ids, _, prefix in queries], soft.values
            )
            for (r, _, k, _), options in zip(queries, alternatives, strict=True):
                per_token: list[dict[str, float]] = [{} for _ in results[r].pieces]
                per_token[k] = options
                results[r] = replace(results[r], alternatives=tuple(per_token))
        return results

    def _pieces(self, ids: list[int]) -> tuple[str, ...]:
        """Each token's text as it extends the decoded reply (joined, they are the reply)."""
        pieces, before = [], ""
        for k in range(len(ids)):
            now = self.tokenizer.decode(ids[: k + 1], skip_special_tokens=True)
            pieces.append(now[len(before) :])
            before = now
        return tuple(pieces)

    def _verdict_position(
        self, pieces: tuple[str, ...], soft: SoftTarget
    ) -> tuple[int, str] | None:
        located = soft.locate("".join(pieces))
        if located is None:
            return None
        span = token_span(pieces, located[0])
        if span is None or not chosen_value_complete(pieces[span[0]], span[1], located[1]):
            return None  # read_soft reports why
        return span

    # ------------------------------------------------------------------ soft verdicts

    def vocabulary(self) -> list[str]:
        """Every token id's text decoded on its own (computed once)."""
        if self._vocab is None:
            self._vocab = [self.tokenizer.decode([i]) for i in range(len(self.tokenizer))]
        return self._vocab

    def candidates(self, prefix: str, values: tuple[str, ...]) -> tuple[list[int], list[str]]:
        """Token ids (and texts) that count for one of ``values`` after ``prefix``."""
        if (prefix, values) not in self._candidates:
            ids, texts = [], []
            for i, text in enumerate(self.vocabulary()):
                if value_of_token(text, prefix, values) is not None:
                    ids.append(i)
                    texts.append(text)
            self._candidates[prefix, values] = (ids, texts)
        return self._candidates[prefix, values]

    def _alternatives(
        self, queries: list[tuple[list[int], str]], values: tuple[str, ...]
    ) -> list[dict[str, float]]:
        """Log-probabilities of the verdict tokens at the next position after each sequence,
        from one right-padded forward pass per batch of at most ``max_batch_size`` rows."""
        import torch

        out: list[dict[str, float]] = []
        for start in range(0, len(queries), self.max_batch_size):
            part = queries[start : start + self.max_batch_size]
            input_ids, attention = padded_batch([ids for ids, _ in part], self.pad_id)
            with torch.inference_mode():
                logits = self.model(
                    input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device)
                ).logits
            for r, (ids, prefix) in enumerate(part):
                logprobs = torch.log_softmax(logits[r, len(ids) - 1].float(), dim=-1)
                token_ids, texts = self.candidates(prefix, values)
                options: dict[str, float] = {}
                for token_id, text in zip(token_ids, texts, strict=True):
                    value = float(logprobs[token_id])
                    options[text] = float(np.logaddexp(options.get(text, -math.inf), value))
                out.append(options)
        return out


# --------------------------------------------------------------------------- the scorer

_REFUSED = ("truncate",)


class JudgeLocalFactory:
    name = SCORER_NAME
    description = (
        "LLM judge run locally with transformers (AutoModelForCausalLM + chat template, "
        "batched greedy generation): pairwise, ratings, best-of-4 or rewardbench2 (Ties rated, "
        "other subsets best-of-4), soft verdicts from logits"
    )

    def create(self, options: ScorerOptions) -> JudgeLocalScorer:
        options.reject_unknown_extra(SCORER_NAME, COMMON_OPTIONS)
        options.reject_unused(
            SCORER_NAME,
            _REFUSED,
            "never truncates a judge prompt (a judge that cannot see an answer cannot judge it)",
        )
        if not options.model:
            raise UsageError(
                f"option --model is required by scorer {SCORER_NAME!r} (a causal LM: a local "
                "directory or a name in the Hugging Face cache)"
            )
        options.check_batching()
        return JudgeLocalScorer(options, JudgeSettings.from_options(options))


class JudgeLocalScorer(JudgeScorer):
    def __init__(self, options: ScorerOptions, settings: JudgeSettings) -> None:
        from rmbench.scorers.causal_lm import load_causal_lm
        from rmbench.scorers.chat_format import ChatFormatter
        from rmbench.scorers.judge.dispatch import RewardBench2, make_mode
        from rmbench.scorers.torch_runtime import dtype_name, resolve_device, resolve_dtype

        self.options = options
        self.device = resolve_device(options.device)
        self.dtype = resolve_dtype(options.dtype, self.device)
        model, tokenizer = load_causal_lm(
            str(options.model),
            "--model",
            dtype=self.dtype,
            revision=options.revision,
            trust_remote_code=options.trust_remote_code,
        )
        model.to(self.device)
        self.formatter = ChatFormatter(tokenizer, options.chat_template)
        # refuses a layout that cannot render a prompt (pair) before anything is judged
        self.formatter.render_prompt([{"role": "user", "content": "?"}])
        mode = make_mode(settings.mode, settings.rotations)
        # the default verdicts to read soft; the driver passes each pass's own (rewardbench2
        # reads ratings for Ties and letters for the other subsets)
        soft = None
        if settings.soft and not isinstance(mode, RewardBench2):
            soft = SoftTarget(mode.locate, tuple(mode.values))
        backend = LocalBackend(
            model,
            tokenizer,
            self.formatter,
            self.device,
            settings,
            options.max_batch_size,
            options.max_tokens_per_batch,
            soft,
        )
        if settings.soft and settings.mode in ("ratings", "rewardbench2"):
            tens = backend.candidates("", ("10",))[1]
            if not any(value_of_token(t, "", ["10"]) for t in tens):
                raise UsageError(
                    "option -O soft: this tokenizer writes the rating 10 as several tokens, so "
                    "the verdict position cannot tell 1 from 10; use hard ratings"
                )
        super().__init__(SCORER_NAME, settings, backend, mode)
        self._dtype_name = dtype_name(self.dtype)
        print(
            f"{SCORER_NAME}: {options.model} on {self.device} ({self._dtype_name})", file=sys.stderr
        )

    def identity(self) -> dict[str, Any]:
        return {
            "scorer": SCORER_NAME,
            "model": self.options.model,
            "revision": self.options.revision,
            "dtype": self._dtype_name,
            "chat_template": self.formatter.identity(),
            "decoding": "greedy",
            **self.settings.identity(),
        }
