"""A checkpoint whose weights would be partly random is refused, not scored.

transformers initialises whatever a checkpoint lacks at random and only logs it: a reward
model whose score head was not saved would score with a random head. Each model-backed scorer
must refuse such a checkpoint in one line naming the missing weight. (A checkpoint of another
architecture, a base encoder say, is refused earlier, by its declared class.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file
from test_scorer_dpo import make_tiny_causal_llamas
from tiny_models import make_tiny_bert_rm

from rmbench.errors import ModelError
from rmbench.scorers.base import ScorerOptions
from rmbench.scorers.causal_lm import load_causal_lm
from rmbench.scorers.sequence_classifier import SequenceClassifierScorer

TEXTS = ["tok1 tok2 answer3 code4 reason5"] * 5


def drop_weights(checkpoint: Path, prefix: str) -> None:
    """Remove the tensors whose names start with ``prefix`` from a saved checkpoint."""
    path = checkpoint / "model.safetensors"
    tensors = {k: v for k, v in load_file(path).items() if not k.startswith(prefix)}
    save_file(tensors, path, metadata={"format": "pt"})


def test_a_reward_model_saved_without_its_head_is_refused(tmp_path: Path) -> None:
    rm = make_tiny_bert_rm(tmp_path / "rm", TEXTS, vocab_size=300)
    drop_weights(rm, "classifier.")
    with pytest.raises(ModelError) as failure:
        SequenceClassifierScorer.load(ScorerOptions(model=str(rm), device="cpu"))
    message = str(failure.value)
    assert message.startswith(f"option --model: model {str(rm)!r} lacks trained weights for ")
    assert "classifier" in message
    assert message.endswith(": its score head would be randomly initialised")
    assert "\n" not in message


def test_a_policy_saved_without_its_language_modelling_head_is_refused(tmp_path: Path) -> None:
    policy, _ = make_tiny_causal_llamas(tmp_path, TEXTS)
    drop_weights(policy, "lm_head.")
    with pytest.raises(ModelError, match=r"^option -O ref_model: model .* weights for lm_head"):
        load_causal_lm(
            str(policy), "-O ref_model", dtype=None, revision=None, trust_remote_code=False
        )
