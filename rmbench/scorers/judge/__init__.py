"""Generative judges as scorers: templates, verdict parsing, modes, soft verdicts, backends.

One module per job: :mod:`.templates` (prompts per mode, candidates fenced as data),
:mod:`.verdicts` (reading ``[[A]]``/``[[7]]`` markers from the judge's reply, combining both
orders), :mod:`.modes` (pairwise, ratings, best-of-4: which requests a set needs and how replies
become scores), :mod:`.dispatch` (which mode judges a set: RewardBench 2's Ties rated, its other
subsets best-of-4, in one run), :mod:`.soft` (probabilities at the verdict position), :mod:`.options` (options
every backend shares), :mod:`.scorer` (the driver, and ``judge-openai``),
:mod:`.openai_client` (chat-completions over HTTP with retries, timeouts, token usage, logprobs)
and :mod:`.local_backend` (``judge-local``: batched greedy generation with transformers).
"""
