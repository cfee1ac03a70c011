"""DPO's implicit reward, and reference-free likelihood rewards, from causal language models.

A policy trained with DPO defines a reward through its ratio to the reference model it was
trained from (Rafailov et al., 2023): r(x, y) = β · Σ_t [log π(y_t | x, y_<t) - log π_ref(y_t |
x, y_<t)] over the response's tokens, up to a term of the prompt alone that cancels in every
comparison of responses to one prompt. ``variant`` picks the reward:

* ``dpo`` (default): the formula above; needs ``-O ref_model=PATH_OR_ID``;
* ``sum``: β · Σ_t log π(y_t | ·), the policy's log-likelihood (no reference);
* ``mean``: β · mean_t log π(y_t | ·), length-normalised (SimPO's reward);
* ``norm``: β · -‖(log π(y_t | ·))_t‖₂, RewardBench's default reference-free reward
  (``ref_free_norm="norm"`` in its ``run_dpo.py``).

Response tokens are located by the prompt-prefix rule of
:mod:`rmbench.scorers.response_tokens` (checked for every input), so prompt and template
tokens never count. Inputs are packed by the shared token budget and scores do not depend on
batching (see :mod:`rmbench.scorers.causal_lm`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from rmbench.errors import ModelError, ScoringError, UsageError
from rmbench.scorers.base import ScoredBatch, ScorerOptions, ScoringItem
from rmbench.scorers.batching import over_length, pack_by_token_budget
from rmbench.scorers.loading import model_max_length
from rmbench.scorers.response_tokens import ResponseTokenizer, ResponseTokens

SCORER_NAME = "dpo"
EXTRA_OPTIONS = ("ref_model", "variant", "beta", "attn_implementation")
VARIANTS = ("dpo", "sum", "mean", "norm")


class DPOFactory:
    name = SCORER_NAME
    description = (
        "DPO implicit reward β·Σ(log π - log π_ref) over response tokens from a policy and a "
        "reference causal LM; reference-free variants sum, mean, norm"
    )

    def create(self, options: ScorerOptions) -> DPOScorer:
        return DPOScorer.load(options)


def parse_variant_and_beta(options: ScorerOptions) -> tuple[str, float, str | None]:
    """``(variant, beta, ref_model)`` from ``-O`` options; one-line errors name the option."""
    options.reject_unknown_extra(SCORER_NAME, EXTRA_OPTIONS)
    variant = options.extra.get("variant", "dpo")
    if variant not in VARIANTS:
        raise UsageError(f"option -O variant: {variant!r} is not one of {', '.join(VARIANTS)}")
    raw_beta = options.extra.get("beta", "1")
    try:
        beta = float(raw_beta)
    except ValueError:
        raise UsageError(f"option -O beta: {raw_beta!r} is not a number") from None
    if not (math.isfinite(beta) and beta > 0):
        raise UsageError(f"option -O beta: must be a positive finite number, got {raw_beta!r}")
    ref_model = options.extra.get("ref_model") or None
    if variant == "dpo" and ref_model is None:
        raise UsageError(
            "option -O ref_model is required by scorer 'dpo' with variant 'dpo' (the reference "
            "model the policy was trained from); or pick a reference-free -O variant=sum|mean|norm"
        )
    if variant != "dpo" and ref_model is not None:
        raise UsageError(
            f"option -O ref_model: variant {variant!r} is reference-free and would not use it; "
            "drop it or use -O variant=dpo"
        )
    return variant, beta, ref_model


def reward(variant: str, beta: float, policy: np.ndarray, reference: np.ndarray | None) -> float:
    """The reward of one response from its per-token log-probabilities (float64)."""
    if variant == "dpo":
        assert reference is not None
        return beta * float(np.sum(policy) - np.sum(reference))
    if variant == "sum":
        return beta * float(np.sum(policy))
    if variant == "mean":
        return beta * float(np.mean(policy))
    return beta * -float(np.linalg.norm(policy))


class DPOScorer:
    """A policy (and, for ``dpo``, a reference) causal LM scoring by token-budget batches."""

    def __init__(
        self,
        policy: Any,
        reference: Any | None,
        tokenizer: Any,
        options: ScorerOptions,
        device: Any,
        dtype: Any,
        fingerprints: dict[str, Any],
    ) -> None:
        self.variant, self.beta, self.ref_model_name = parse_variant_and_beta(options)
        self.policy = policy
        self.reference = reference
        self.tokenizer = tokenizer
        self.options = options
        self.device = device
        self.dtype = dtype
        self.responses = ResponseTokenizer(tokenizer, options.chat_template)
        configs = [policy.config] + ([reference.config] if reference is not None else [])
        self.max_length = model_max_length(tokenizer, *configs)
        self._fingerprints = fingerprints
        pad = tokenizer.pad_token_id
        # Right padding under causal attention: real tokens never see pads, so any id will do.
        self.pad_id = int(pad if pad is not None else (tokenizer.eos_token_id or 0))
        self.truncated_count = 0

    @classmethod
    def load(cls, options: ScorerOptions) -> DPOScorer:
        _, _, ref_model = parse_variant_and_beta(options)
        if not options.model:
            raise UsageError(f"option --model is required by scorer {SCORER_NAME!r} (the policy)")
        options.check_batching()
        from transformers.utils import logging as hf_logging

        from rmbench.run.fingerprint import model_fingerprint
        from rmbench.scorers.causal_lm import load_causal_lm
        from rmbench.scorers.torch_runtime import resolve_device, resolve_dtype

        hf_logging.disable_progress_bar()
        device = resolve_device(options.device)
        dtype = resolve_dtype(options.dtype, device)
        attn = options.extra.get("attn_implementation")
        policy, tokenizer = load_causal_lm(
            options.model,
            "--model",
            dtype=dtype,
            revision=options.revision,
            trust_remote_code=options.trust_remote_code,
            attn_implementation=attn,
        )
        fingerprints: dict[str, Any] = {
            "policy": model_fingerprint(options.model, getattr(policy.config, "_commit_hash", None))
        }
        reference = None
        if ref_model is not None:
            reference, ref_tokenizer = load_causal_lm(
                ref_model,
                "-O ref_model",
                dtype=dtype,
                revision=None,
                trust_remote_code=options.trust_remote_code,
                attn_implementation=attn,
            )
            if ref_tokenizer.get_vocab() != tokenizer.get_vocab():
                raise ModelError(
                    f"option -O ref_model: {ref_model!r} has a different vocabulary from the "
                    f"policy {options.model!r}; a DPO reward compares the two models on the same "
                    "tokens, so they must share a tokenizer"
                )
            fingerprints["reference"] = model_fingerprint(
                ref_model, getattr(reference.config, "_commit_hash", None)
            )
            reference.to(device)
        policy.to(device)
        return cls(policy, reference, tokenizer, options, device, dtype, fingerprints)

    def identity(self) -> dict[str, Any]:
        from rmbench.scorers.torch_runtime import dtype_name

        return {
            "scorer": SCORER_NAME,
            "variant": self.variant,
            "beta": self.beta,
            "model": self.options.model,
            "revision": self.options.revision,
            "ref_model": self.ref_model_name,
            "model_fingerprint": self._fingerprints,
            "architecture": type(self.policy).__name__,
            "dtype": dtype_name(self.dtype),
            "chat_template": self.responses.identity(),
            "max_length": self.max_length,
            "truncate": self.options.truncate,
            "attn_implementation": self.options.extra.get("attn_implementation"),
        }

    def tokenize(self, items: Sequence[ScoringItem]) -> list[ResponseTokens]:
        """Locate every input's response tokens; refuse (or truncate) over-length inputs."""
        rows = self.responses.encode(items)
        over = over_length(
            [len(r.ids) for r in rows],
            items,
            self.max_length,
            self.options.truncate,
            "Pass --truncate to score the response tokens that fit",
        )
        for i in over:
            assert self.max_length is not None  # over is empty without a maximum
            if rows[i].response_start >= self.max_length:
                raise ModelError(
                    f"the prompt of {items[i].ref or items[i].key} alone fills the model's "
                    f"maximum length of {self.max_length} tokens; no response token would be scored"
                )
            rows[i] = ResponseTokens(rows[i].ids[: self.max_length], rows[i].response_start)
        self.truncated_count += len(over)
        return rows

    def score_batches(self, items: Sequence[ScoringItem]) -> Iterator[ScoredBatch]:
        from rmbench.scorers.causal_lm import response_logprobs

        if not items:
            return
        rows = self.tokenize(items)
        lengths = np.array([len(r.ids) for r in rows], dtype=np.int64)
        # Both models run on every batch; the budget counts one model's tokens.
        batches = pack_by_token_budget(
            lengths, self.options.max_tokens_per_batch, self.options.max_batch_size
        )
        for batch in batches:
            chunk = [rows[int(i)] for i in batch]
            policy = response_logprobs(self.policy, chunk, self.device, self.pad_id)
            reference: list[np.ndarray | None] = [None] * len(chunk)
            if self.reference is not None:
                reference = list(response_logprobs(self.reference, chunk, self.device, self.pad_id))
            scores = np.array(
                [
                    reward(self.variant, self.beta, p, r)
                    for p, r in zip(policy, reference, strict=True)
                ],
                dtype=np.float64,
            )
            bad = np.flatnonzero(~np.isfinite(scores))
            if bad.size:
                first = items[int(batch[bad[0]])]
                raise ScoringError(
                    f"non-finite reward ({scores[bad[0]]}) for {first.ref or first.key} "
                    f"({bad.size} in this batch); scores of earlier batches are kept in the cache"
                )
            yield ScoredBatch(
                keys=[items[int(i)].key for i in batch],
                scores=scores,
                n_tokens=int(lengths[batch].sum()),
            )
