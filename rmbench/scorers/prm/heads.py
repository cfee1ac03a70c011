"""Loading a process reward model and reading a probability of correctness at each step tag.

Two families of PRMs are in use, and both are read at the tag token that follows each step:

* ``lm``: a causal LM trained to emit a "good" or "bad" token after the tag (Math-Shepherd:
  ``+`` / ``-``). The step score is ``softmax([logit_good, logit_bad])[0]`` at the tag's
  position, i.e. the probability of "good" among the two candidate tokens, as Math-Shepherd's
  reference code computes it. Only the tag positions are projected onto the vocabulary
  (``logits_to_keep`` with a tensor of positions) where the model supports it.
* ``classifier`` / ``value``: an ``AutoModelForTokenClassification`` head. With two labels
  (Qwen2.5-Math-PRM style) the step score is ``softmax(logits)[1]``, label 1 meaning correct;
  with one label (a value head) it is ``sigmoid(logit)``. Checkpoints that ship their own
  ``...ForProcessRewardModel`` class (Qwen2.5-Math-PRM does) are loaded through ``AutoModel``
  with ``--trust-remote-code`` and read the same way from their per-token logits, which must
  have two columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rmbench.errors import ModelError
from rmbench.scorers.batching import padded_batch
from rmbench.scorers.causal_lm import load_causal_lm, supports_logits_to_keep
from rmbench.scorers.loading import load_config, load_tokenizer, load_trained
from rmbench.scorers.prm.locate import StepTokens

LM = "lm"
CLASSIFIER = "classifier"
VALUE = "value"


def head_kind(name: str, config: Any) -> str:
    """Which family a checkpoint belongs to, from its declared architecture."""
    architectures = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return LM
    if any(a.endswith("ForProcessRewardModel") for a in architectures):
        return CLASSIFIER
    if any(a.endswith("ForTokenClassification") for a in architectures):
        labels = int(config.num_labels)
        if labels not in (1, 2):
            raise ModelError(
                f"option --model: {name!r} has a {labels}-label token-classification head; a "
                "PRM head needs 2 labels (bad, good) or 1 (a value read through a sigmoid)"
            )
        return CLASSIFIER if labels == 2 else VALUE
    raise ModelError(
        f"option --model: {name!r} is a {', '.join(architectures) or 'model of unknown architecture'}"
        "; a PRM must be a causal LM (step scores from good/bad token logits) or an "
        "AutoModelForTokenClassification with 1 or 2 labels"
    )


def load_prm(
    name: str,
    *,
    dtype: Any,
    revision: str | None,
    trust_remote_code: bool,
    attn_implementation: str | None,
) -> tuple[Any, Any, str]:
    """``(model, tokenizer, kind)``; one-line :class:`ModelError` for anything unusable."""
    from transformers import AutoModel, AutoModelForTokenClassification

    common = {"revision": revision, "trust_remote_code": trust_remote_code}
    config = load_config(name, "--model", **common)
    kind = head_kind(name, config)
    if kind == LM:
        model, tokenizer = load_causal_lm(
            name,
            "--model",
            dtype=dtype,
            revision=revision,
            trust_remote_code=trust_remote_code,
            attn_implementation=attn_implementation,
        )
        return model, tokenizer, kind
    tokenizer = load_tokenizer(name, "--model", **common)
    kwargs: dict[str, Any] = {"dtype": dtype, **common}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    architectures = getattr(config, "architectures", None) or []
    custom = any(a.endswith("ForProcessRewardModel") for a in architectures)
    if custom and not trust_remote_code:
        raise ModelError(
            f"option --model: {name!r} is a {architectures[0]}, a class shipped as code with the "
            "checkpoint; pass --trust-remote-code to load it"
        )
    loader = AutoModel if custom else AutoModelForTokenClassification
    model = load_trained(
        loader,
        name,
        "--model",
        what="weights",
        consequence=": its step head would be randomly initialised",
        config=config,
        **kwargs,
    )
    return model, tokenizer, kind


def single_token_id(tokenizer: Any, text: str, option: str) -> int:
    """The id of ``text`` as one vocabulary entry, or as the one token it encodes to."""
    vocab = tokenizer.get_vocab()
    if text in vocab:
        return int(vocab[text])
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ModelError(
            f"option -O {option}: {text!r} is {len(ids)} tokens for this tokenizer, not one "
            "(give the token as the vocabulary spells it)"
        )
    return int(ids[0])


def tag_probabilities(
    model: Any,
    kind: str,
    rows: Sequence[StepTokens],
    device: Any,
    pad_id: int,
    good_bad: tuple[int, int] | None,
) -> list[np.ndarray]:
    """Per-step probability of correctness for each row, float64, one forward pass.

    Rows are right-padded and attention-masked: under causal attention real tokens never see
    pads, so a row's scores do not depend on the rows beside it (up to summation order).
    """
    import torch

    input_ids, attention = padded_batch([r.ids for r in rows], pad_id)
    width = input_ids.shape[1]
    kwargs: dict[str, Any] = {}
    column = np.arange(width)
    if kind == LM and supports_logits_to_keep(model):
        keep = np.unique(np.concatenate([r.tag_positions for r in rows]))
        column = np.full(width, -1, dtype=np.int64)
        column[keep] = np.arange(len(keep))
        kwargs["logits_to_keep"] = torch.from_numpy(keep).to(device)
    out: list[np.ndarray] = []
    with torch.inference_mode():
        output = model(
            input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs
        )
        # remote-code PRM classes may return a plain tuple whose first item is the logits
        logits = output.logits if hasattr(output, "logits") else output[0]
        for i, r in enumerate(rows):
            cols = torch.from_numpy(column[r.tag_positions]).to(logits.device)
            at_tags = logits[i].index_select(0, cols).float()
            if kind == CLASSIFIER and at_tags.shape[-1] != 2:
                raise ModelError(
                    f"the model's per-token logits have {at_tags.shape[-1]} columns; a "
                    "two-label PRM head needs 2 (bad, good)"
                )
            if kind == LM:
                assert good_bad is not None
                pair = at_tags[:, list(good_bad)]
                probs = torch.softmax(pair, dim=-1)[:, 0]
            elif kind == CLASSIFIER:
                probs = torch.softmax(at_tags, dim=-1)[:, 1]
            else:
                probs = torch.sigmoid(at_tags[:, 0])
            out.append(probs.double().cpu().numpy())
    return out
