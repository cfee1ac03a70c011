"""The model-backed scorers on a CUDA GPU give the CPU's scores (skipped without a GPU).

CI has no GPU, so these run where one is lent (``python -m pytest tests/test_gpu.py``). Each
test scores the same inputs through ``rmbench run`` on the CPU and on the GPU, in float32, and
requires the same scores up to float32 reassociation; bf16 is checked against float32 by rank
agreement, which is what a reward model's bf16 numbers are used for. Batch-size invariance is
checked on the GPU too, where padded batches take other kernels than single rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from prm_models import TAG, make_tiny_prm, random_solutions
from run_helpers import WORDS, run_cli, synthetic_pairs, write_jsonl
from scipy.stats import spearmanr
from test_scorer_dpo import make_tiny_causal_llamas
from tiny_models import make_tiny_llama_rm

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

ROWS = synthetic_pairs({"alpacaeval-easy": 24, "mt-bench-hard": 16}, seed=3)
TEXTS = [r[k] for r in ROWS for k in ("prompt", "chosen", "rejected")]


def scores_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, args: list[str]
) -> np.ndarray:
    """Scores of one ``rmbench run`` in (group, candidate) order."""
    run_dir = tmp_path / name
    code, out, err = run_cli(["run", *args, "--run-dir", str(run_dir), "-q"], capsys)
    assert code == 0, err + out
    frame = pl.read_parquet(run_dir / "scores.parquet").sort("group_id", "candidate_index")
    return frame["score"].to_numpy()


def assert_float32_close(cpu: np.ndarray, gpu: np.ndarray) -> None:
    scale = max(1.0, float(np.max(np.abs(cpu))))
    assert np.max(np.abs(cpu - gpu)) <= 1e-4 * scale


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("gpu-data") / "pairs.jsonl", ROWS)


def test_sequence_classifier_on_gpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pairs: Path
) -> None:
    model = make_tiny_llama_rm(tmp_path / "rm", TEXTS, vocab_size=500)
    base = ["--suite", "rewardbench", "--data", str(pairs), "--model", str(model)]
    cpu = scores_of(tmp_path, capsys, "cpu", [*base, "--device", "cpu", "--dtype", "float32"])
    gpu = scores_of(tmp_path, capsys, "gpu", [*base, "--device", "cuda", "--dtype", "float32"])
    assert_float32_close(cpu, gpu)
    one_row = [*base, "--device", "cuda", "--dtype", "float32", "--max-batch-size", "1"]
    assert_float32_close(gpu, scores_of(tmp_path, capsys, "gpu-b1", one_row))
    bf16 = scores_of(tmp_path, capsys, "bf16", [*base, "--device", "cuda", "--dtype", "bfloat16"])
    assert spearmanr(gpu, bf16).statistic > 0.99


def test_dpo_on_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str], pairs: Path) -> None:
    policy, reference = make_tiny_causal_llamas(tmp_path, TEXTS)
    base = ["--suite", "rewardbench", "--data", str(pairs), "--scorer", "dpo"]
    base += ["--model", str(policy), "-O", f"ref_model={reference}", "--dtype", "float32"]
    cpu = scores_of(tmp_path, capsys, "cpu", [*base, "--device", "cpu"])
    gpu = scores_of(tmp_path, capsys, "gpu", [*base, "--device", "cuda"])
    assert_float32_close(cpu, gpu)
    small = scores_of(
        tmp_path, capsys, "gpu-b2", [*base, "--device", "cuda", "--max-batch-size", "2"]
    )
    assert_float32_close(gpu, small)


def test_prm_on_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = random_solutions("math", 24, seed=11, max_steps=7, max_words=8)
    data = tmp_path / "math.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    texts = [" ".join(WORDS)] * 20 + [" ".join(r["steps"]) for r in rows]
    model = make_tiny_prm(tmp_path / "prm", texts, "lm")
    base = ["--suite", "processbench", "--data", str(data), "--scorer", "prm"]
    base += ["--model", str(model), "-O", f"step_tag={TAG}", "-O", "aggregation=last"]
    base += ["--dtype", "float32"]
    cpu = scores_of(tmp_path, capsys, "cpu", [*base, "--device", "cpu"])
    gpu = scores_of(tmp_path, capsys, "gpu", [*base, "--device", "cuda"])
    assert np.max(np.abs(cpu - gpu)) <= 1e-5  # probabilities in [0, 1]


def test_local_judge_on_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from judge_models import judge_conversations, judge_texts, make_trained_judge

    rng = np.random.default_rng(5)
    questions = [f"question {q}: " + " ".join(rng.choice(WORDS, 5)) for q in range(4)]
    answers = [
        [" ".join(rng.choice(WORDS, int(rng.integers(3, 12)))) for _ in range(4)] for _ in questions
    ]
    texts = judge_texts(questions, [a for four in answers for a in four])
    letters = [c for c in judge_conversations(questions, answers) if c[0] != "ratings"]
    judge = make_trained_judge(tmp_path / "judge", texts, letters)
    rows = [
        {"question": q, "answers": a, "quality": [4.0, 3.0, 2.0, 1.0]}
        for q, a in zip(questions, answers, strict=True)
    ]
    data = tmp_path / "graded.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = ["--suite", "custom", "--data", str(data), "--scorer", "judge-local"]
    base += ["--model", str(judge), "--dtype", "float32", "-O", "max_tokens=10"]
    base += ["-O", "mode=best-of-4", "-O", "soft=true", "--bootstrap", "0"]
    base += ["--suite-option", "prompt=question", "--suite-option", "responses=answers"]
    base += ["--suite-option", "gold=quality"]
    cpu = scores_of(tmp_path, capsys, "cpu", [*base, "--device", "cpu"])
    gpu = scores_of(tmp_path, capsys, "gpu", [*base, "--device", "cuda"])
    assert np.max(np.abs(cpu - gpu)) <= 1e-5  # probabilities of being named best
    one = scores_of(
        tmp_path, capsys, "gpu-b1", [*base, "--device", "cuda", "--max-batch-size", "1"]
    )
    assert np.max(np.abs(gpu - one)) <= 1e-5
