"""Loading a checkpoint's weights for scoring, refusing any that would be randomly initialised.

transformers fills weights a checkpoint lacks with random values and only logs it: a base
model loaded as a reward model gets a random score head, and its "rewards" are noise that
still look like numbers. Every model-backed scorer loads through :func:`load_trained`, which
turns that into an error naming the option and the first missing weight.
"""

from __future__ import annotations

from typing import Any

from rmbench.errors import ModelError

#: Tokenizers without a length limit report one of about 1e30.
_UNBOUNDED_MAX_LENGTH = 10**8


def model_max_length(tokenizer: Any, *configs: Any) -> int | None:
    """The longest input every one of ``configs`` and the tokenizer accept (None: no limit
    known), so an over-long input is refused before the model fails on it mid-run."""
    limits = []
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < _UNBOUNDED_MAX_LENGTH:
        limits.append(tok_limit)
    for config in configs:
        for attr in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(config, attr, None)
            if isinstance(value, int) and value > 0:
                limits.append(value)
                break
    return min(limits) if limits else None


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (transformers' are often many lines long)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def load_config(name: str, option: str, **kwargs: Any) -> Any:
    """``AutoConfig.from_pretrained(name, **kwargs)``, or a one-line :class:`ModelError`."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as error:
        raise ModelError(
            f"option {option}: cannot load a model config from {name!r} ({first_line(error)})"
        ) from None


def load_tokenizer(name: str, option: str, **kwargs: Any) -> Any:
    """``AutoTokenizer.from_pretrained(name, **kwargs)``, or a one-line :class:`ModelError`
    (a tokenizer class that cannot be built from the files raises TypeError too)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, **kwargs)
    except (OSError, ValueError, TypeError) as error:
        raise ModelError(
            f"option {option}: cannot load a tokenizer from {name!r} ({first_line(error)})"
        ) from None


def load_trained(
    loader: Any, name: str, option: str, *, what: str, consequence: str = "", **kwargs: Any
) -> Any:
    """``loader.from_pretrained(name, **kwargs)`` in eval mode; a one-line :class:`ModelError`
    when it cannot load or when any weight is missing from the checkpoint.

    ``what`` names the weights in the load error ("weights", "causal-LM weights"),
    ``consequence`` ends the missing-weight error (": its score head would be random").
    """
    try:
        model, info = loader.from_pretrained(name, output_loading_info=True, **kwargs)
    except (OSError, ValueError) as error:
        raise ModelError(
            f"option {option}: cannot load {what} from {name!r} ({first_line(error)})"
        ) from None
    missing = list(info.get("missing_keys", []))
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ModelError(
            f"option {option}: model {name!r} lacks trained weights for {missing[0]}{more}"
            f"{consequence}"
        )
    model.eval()
    return model
