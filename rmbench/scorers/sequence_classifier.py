"""The built-in scalar scorer: any ``AutoModelForSequenceClassification`` with one label.

This covers Bradley-Terry reward models (Skywork-Reward, ArmoRM's scalar head, the
OpenAssistant DeBERTa models, everything ``rmbench train`` writes). The reward is the single
logit at the position the model's own head pools from.

Scores must not depend on how inputs were batched. Two details matter for that:

* inputs are right-padded, and the pad id the model uses to find its last real token must never
  occur inside a real input. Models without a pad token get one chosen from ids that occur in
  none of the inputs being scored (padding positions are masked, so which unused id it is does
  not matter), instead of the common ``pad = eos`` shortcut that would make the model read its
  reward one token early whenever a response ends in eos;
* the longest-first token-budget packing (see :mod:`rmbench.scorers.batching`) changes which
  inputs share a batch, so tests check scores against one-at-a-time scoring.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from rmbench.errors import ModelError, ScoringError, UsageError
from rmbench.scorers.base import ScoredBatch, ScorerOptions, ScoringItem
from rmbench.scorers.batching import over_length, pack_by_token_budget, padded_batch
from rmbench.scorers.chat_format import ChatFormatter
from rmbench.scorers.loading import load_config, load_tokenizer, load_trained, model_max_length

SCORER_NAME = "seq-classifier"
EXTRA_OPTIONS = ("attn_implementation",)


class SequenceClassifierFactory:
    name = SCORER_NAME
    description = (
        "Scalar reward model: any AutoModelForSequenceClassification with a one-label head "
        "(Bradley-Terry reward models)"
    )

    def create(self, options: ScorerOptions) -> SequenceClassifierScorer:
        return SequenceClassifierScorer.load(options)


class SequenceClassifierScorer:
    """A loaded one-label sequence-classification model, scoring by token-budget batches."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        options: ScorerOptions,
        device: Any,
        dtype: Any,
        fingerprint: dict[str, object],
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.options = options
        self.device = device
        self.dtype = dtype
        self.formatter = ChatFormatter(tokenizer, options.chat_template)
        self.max_length = model_max_length(tokenizer, model.config)
        self._fingerprint = fingerprint
        self._configured_pad_id = model.config.pad_token_id
        if self._configured_pad_id is None and tokenizer.pad_token_id is not None:
            self._configured_pad_id = tokenizer.pad_token_id
        self.truncated_count = 0

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, options: ScorerOptions) -> SequenceClassifierScorer:
        options.reject_unknown_extra(SCORER_NAME, EXTRA_OPTIONS)
        if not options.model:
            raise UsageError(f"option --model is required by scorer {SCORER_NAME!r}")
        options.check_batching()
        import torch  # noqa: F401  (heavy import only when a scorer is actually built)
        from transformers import AutoModelForSequenceClassification
        from transformers.utils import logging as hf_logging

        from rmbench.run.fingerprint import model_fingerprint
        from rmbench.scorers.torch_runtime import resolve_device, resolve_dtype

        hf_logging.disable_progress_bar()  # rmbench draws its own progress bar
        device = resolve_device(options.device)
        dtype = resolve_dtype(options.dtype, device)
        common = {"revision": options.revision, "trust_remote_code": options.trust_remote_code}
        config = load_config(options.model, "--model", **common)
        architectures = getattr(config, "architectures", None) or []
        if architectures and not any(
            a.endswith("ForSequenceClassification") for a in architectures
        ):
            raise ModelError(
                f"model {options.model!r} is a {', '.join(architectures)}, not a "
                "sequence-classification reward model (it has no score head)"
            )
        if config.num_labels != 1:
            raise ModelError(
                f"model {options.model!r} has a {config.num_labels}-label head; a scalar reward "
                "model needs exactly one label"
            )
        tokenizer = load_tokenizer(options.model, "--model", **common)
        load_kwargs: dict[str, Any] = {"dtype": dtype, **common}
        if "attn_implementation" in options.extra:
            load_kwargs["attn_implementation"] = options.extra["attn_implementation"]
        model = load_trained(
            AutoModelForSequenceClassification,
            options.model,
            "--model",
            what="weights",
            consequence=": its score head would be randomly initialised",
            config=config,
            **load_kwargs,
        )
        model.to(device)
        fingerprint = model_fingerprint(options.model, getattr(config, "_commit_hash", None))
        return cls(model, tokenizer, options, device, dtype, fingerprint)

    # -- identity ---------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        from rmbench.scorers.torch_runtime import dtype_name

        return {
            "scorer": SCORER_NAME,
            "model": self.options.model,
            "revision": self.options.revision,
            "model_fingerprint": self._fingerprint,
            "architecture": type(self.model).__name__,
            "dtype": dtype_name(self.dtype),
            "chat_template": self.formatter.identity(),
            "max_length": self.max_length,
            "truncate": self.options.truncate,
            "extra": dict(self.options.extra),
        }

    # -- scoring ----------------------------------------------------------------------------
    def tokenize(self, items: Sequence[ScoringItem]) -> list[np.ndarray]:
        """Render and tokenise every item; refuse over-length inputs unless truncation is on."""
        rendered = [self.formatter.render(item.prompt, item.response) for item in items]
        truncate = self.options.truncate and self.max_length is not None
        ids = self._encode(rendered, truncation=False)
        if truncate:
            over = [i for i, x in enumerate(ids) if len(x) > self.max_length]
            self.truncated_count += len(over)
            for i, encoded in zip(
                over, self._encode([rendered[i] for i in over], True), strict=True
            ):
                ids[i] = encoded
        if not truncate:
            over_length(
                [len(x) for x in ids],
                items,
                self.max_length,
                truncate,
                "Pass --truncate to score them truncated, or use a model with a longer context",
            )
        return ids

    def _encode(
        self, rendered: Sequence[Any], truncation: bool, chunk: int = 1024
    ) -> list[np.ndarray]:
        """Tokenise in chunks of identically-flagged inputs (the fast tokenizer's batch path)."""
        out: list[np.ndarray] = []
        for start in range(0, len(rendered), chunk):
            part = rendered[start : start + chunk]
            flags = {(r.add_special_tokens, r.text_pair is None) for r in part}
            groups = [part] if len(flags) == 1 else [[r] for r in part]
            for group in groups:
                pairs = None if group[0].text_pair is None else [r.text_pair for r in group]
                encoded = self.tokenizer(
                    [r.text for r in group],
                    pairs,
                    add_special_tokens=group[0].add_special_tokens,
                    truncation=truncation,
                    max_length=self.max_length if truncation else None,
                    return_attention_mask=False,
                    verbose=False,  # over-length inputs are reported by rmbench, not warned about
                )["input_ids"]
                out.extend(np.asarray(x, dtype=np.int64) for x in encoded)
        return out

    def _pad_id(self, ids: list[np.ndarray]) -> int:
        """The model's pad id, or an id that occurs in none of the inputs (see module doc)."""
        if self._configured_pad_id is not None:
            return int(self._configured_pad_id)
        used = np.zeros(self.model.config.vocab_size, dtype=bool)
        for x in ids:
            used[x] = True
        unused = np.flatnonzero(~used)
        if not len(unused):
            raise ModelError("model has no pad token and every vocabulary id occurs in the inputs")
        return int(unused[-1])

    def score_batches(self, items: Sequence[ScoringItem]) -> Iterator[ScoredBatch]:
        import torch

        if not items:
            return
        ids = self.tokenize(items)
        pad_id = self._pad_id(ids)
        self.model.config.pad_token_id = pad_id
        lengths = np.array([len(x) for x in ids], dtype=np.int64)
        batches = pack_by_token_budget(
            lengths, self.options.max_tokens_per_batch, self.options.max_batch_size
        )
        for batch in batches:
            input_ids, attention = padded_batch([ids[i] for i in batch], pad_id)
            with torch.inference_mode():
                logits = self.model(
                    input_ids=input_ids.to(self.device),
                    attention_mask=attention.to(self.device),
                ).logits
            scores = logits[:, 0].float().cpu().numpy().astype(np.float64)
            bad = np.flatnonzero(~np.isfinite(scores))
            if bad.size:
                first = items[int(batch[bad[0]])]
                raise ScoringError(
                    f"model produced a non-finite score ({scores[bad[0]]}) for {first.ref or first.key}"
                    f" ({bad.size} in this batch); scores of earlier batches are kept in the cache"
                )
            yield ScoredBatch(
                keys=[items[int(i)].key for i in batch],
                scores=scores,
                n_tokens=int(lengths[batch].sum()),
            )
