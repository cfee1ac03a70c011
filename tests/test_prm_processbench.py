"""The ``processbench`` suite: first-error F1 by hand, bad rows, and ``rmbench run`` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from prm_models import TAG, make_tiny_prm, random_solutions
from run_helpers import WORDS, run_cli
from transformers import AutoModelForCausalLM, AutoTokenizer

from rmbench.errors import DataError, UsageError
from rmbench.plugins import get_suite
from rmbench.run.load import load_run
from rmbench.run.suite_of_run import suite_for_run
from rmbench.suites.base import SuiteOptions
from rmbench.suites.processbench import ProcessBenchSuite, f1

# (subset, label, step scores): the prediction is the first step scoring below the threshold.
CASES = [
    ("gsm8k", -1, [0.9, 0.8, 0.7]),  # correct, nothing flagged: match
    ("gsm8k", -1, [0.9, 0.4, 0.8]),  # correct, step 1 flagged: miss
    ("gsm8k", 0, [0.3, 0.9]),  # error at the first step, found: match
    ("gsm8k", 3, [0.9, 0.9, 0.9, 0.2]),  # late error, found: match
    ("gsm8k", 1, [0.9, 0.6, 0.1, 0.9]),  # early error, flagged one step late: miss
    ("gsm8k", 2, [0.9, 0.9, 0.9]),  # error never flagged: miss
    ("math", -1, [0.6]),  # one-step correct solution: match
    ("math", 0, [0.49, 0.2]),  # match
    ("math", 1, [0.5, 0.5]),  # 0.5 is not below 0.5: predicted -1, miss
    ("math", -1, [0.7, 0.55]),  # match
]


def write_cases(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for subset in ("gsm8k", "math"):
        rows = [
            {
                "id": f"{subset}-{i}",
                "generator": "tiny",
                "problem": f"problem {i} of {subset}",
                "steps": [f"step {k} of {i}" for k in range(len(scores))],
                "final_answer_correct": label == -1,
                "label": label,
            }
            for i, (sub, label, scores) in enumerate(CASES)
            if sub == subset
        ]
        (root / f"{subset}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def loaded(data: Path, **extra: str) -> tuple[ProcessBenchSuite, object]:
    suite = ProcessBenchSuite()
    return suite, suite.load(SuiteOptions(data=str(data), extra=extra)).groups


def values(result: object) -> dict[tuple[str, str, str], float]:
    return {(m.level, m.name, m.metric): m.value for m in result.metrics}  # type: ignore[attr-defined]


def test_f1_by_hand(tmp_path: Path) -> None:
    suite, groups = loaded(write_cases(tmp_path / "pb"))
    assert groups.groups["subset"].to_list() == ["gsm8k"] * 6 + ["math"] * 4
    # the prefixes, in order, with gold 1 until the first wrong step
    first = groups.candidates.filter(pl.col("group_id") == "gsm8k-4")
    assert first["response"].to_list() == [
        "\n\n".join(f"step {k} of 4" for k in range(n)) for n in range(1, 5)
    ]
    assert first["gold"].to_list() == [1.0, 0.0, 0.0, 0.0]
    scores = np.concatenate([np.array(s) for _, _, s in CASES])
    result = suite.evaluate(groups, scores, n_bootstrap=0, seed=0, confidence=0.95)
    got = values(result)
    expected = {
        ("subset", "gsm8k", "error_accuracy"): 2 / 4,
        ("subset", "gsm8k", "correct_accuracy"): 1 / 2,
        ("subset", "gsm8k", "f1"): 0.5,
        ("subset", "math", "error_accuracy"): 1 / 2,
        ("subset", "math", "correct_accuracy"): 2 / 2,
        ("subset", "math", "f1"): 2 * 0.5 * 1.0 / 1.5,
        ("overall", "overall", "f1"): (0.5 + 2 / 3) / 2,
        ("overall", "overall", "error_accuracy"): 3 / 6,
        ("overall", "overall", "correct_accuracy"): 3 / 4,
        ("overall", "overall", "f1_pooled"): 2 * 0.5 * 0.75 / 1.25,
    }
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    n = {(m.name, m.metric): m.n for m in result.metrics}
    assert n[("gsm8k", "f1")] == 6 and n[("gsm8k", "error_accuracy")] == 4
    assert n[("math", "correct_accuracy")] == 2

    # a higher threshold flags steps scoring 0.6 and 0.55 too
    suite, groups = loaded(tmp_path / "pb", threshold="0.65")
    got = values(suite.evaluate(groups, scores, n_bootstrap=0, seed=0, confidence=0.95))
    assert got[("subset", "gsm8k", "error_accuracy")] == pytest.approx(3 / 4)  # 0.6 now found
    assert got[("subset", "math", "correct_accuracy")] == 0.0  # both correct ones flagged
    assert got[("subset", "math", "f1")] == 0.0
    assert "0.65" in suite.sufficient_statistics(groups, scores).notes[0]


def test_f1_edge_cases() -> None:
    got = f1(np.array([0.0, 0.5, np.nan, 1.0]), np.array([0.0, 0.0, 1.0, 1.0]))
    assert got[:2].tolist() == [0.0, 0.0] and np.isnan(got[2]) and got[3] == 1.0


def test_bootstrap_intervals_are_stratified_and_deterministic(tmp_path: Path) -> None:
    suite, groups = loaded(write_cases(tmp_path / "pb"))
    scores = np.concatenate([np.array(s) for _, _, s in CASES])
    stats = suite.sufficient_statistics(groups, scores)
    assert stats.strata == ("gsm8k/erroneous", "gsm8k/correct", "math/erroneous", "math/correct")
    first = suite.evaluate(groups, scores, n_bootstrap=300, seed=5, confidence=0.9)
    again = suite.evaluate(groups, scores, n_bootstrap=300, seed=5, confidence=0.9)
    assert [m.as_dict() for m in first.metrics] == [m.as_dict() for m in again.metrics]
    for m in first.metrics:
        assert m.ci_low <= m.value + 1e-12 and m.value <= m.ci_high + 1e-12, m
    by_key = {(m.name, m.metric): m for m in first.metrics}
    # math's correct solutions all match: every resample of that stratum keeps accuracy 1
    assert by_key[("math", "correct_accuracy")].ci_low == 1.0
    assert by_key[("gsm8k", "f1")].ci_low < by_key[("gsm8k", "f1")].ci_high


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"problem": "p", "steps": "one step", "label": -1}, "'steps' must be a list"),
        ({"problem": "p", "steps": [], "label": -1}, "'steps' is empty"),
        ({"problem": "p", "steps": ["a", 3], "label": -1}, r"steps\[1\] must be a string"),
        ({"problem": "p", "steps": ["a", " "], "label": -1}, r"steps\[1\] is blank"),
        ({"problem": "p", "steps": ["a", "b"], "label": 2}, "label 2 is out of range"),
        ({"problem": "p", "steps": ["a", "b"], "label": -2}, "label -2 is out of range"),
        ({"problem": "p", "steps": ["a"], "label": True}, "'label' must be an integer"),
        ({"problem": "p", "steps": ["a\n\nb"], "label": -1}, "contains the step separator"),
        ({"problem": "", "steps": ["a"], "label": -1}, "'problem' must be a non-empty"),
        ({"steps": ["a"], "label": -1}, "no field 'problem'"),
    ],
)
def test_bad_rows_name_file_and_row(tmp_path: Path, row: dict, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    good = {"problem": "p", "steps": ["a"], "label": -1}
    path.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=f"bad.jsonl row 1 \\(0-based\\): .*{message}"):
        loaded(path)


def test_option_and_id_errors(tmp_path: Path) -> None:
    path = tmp_path / "gsm8k.jsonl"
    row = {"id": "x", "problem": "p", "steps": ["a"], "label": -1}
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"row 1 .*duplicate id 'x'"):
        loaded(path)
    with pytest.raises(UsageError, match="--suite-option tie_credit"):
        loaded(path, tie_credit="1")
    with pytest.raises(UsageError, match="threshold: 'high' is not a number"):
        loaded(path, threshold="high")
    with pytest.raises(UsageError, match="needs --data"):
        ProcessBenchSuite().load(SuiteOptions())
    # a custom separator lets steps hold blank lines
    path.write_text(json.dumps({"problem": "p", "steps": ["a\n\nb", "c"], "label": 1}) + "\n")
    _, groups = loaded(path, separator="\\n---\\n")
    assert groups.candidates["response"].to_list() == ["a\n\nb", "a\n\nb\n---\nc"]


def test_subset_from_a_saved_split_and_subset_limit_options(tmp_path: Path) -> None:
    import datasets

    rows = [{"problem": f"p{i}", "steps": ["a", "b"], "label": i % 3 - 1} for i in range(5)]
    datasets.DatasetDict({"math": datasets.Dataset.from_list(rows)}).save_to_disk(tmp_path / "hub")
    _, groups = loaded(tmp_path / "hub")
    assert set(groups.groups["subset"].to_list()) == {"math"}  # the split names the subset
    assert groups.groups["group_id"].to_list() == [f"math-{i}" for i in range(5)]
    root = write_cases(tmp_path / "pb")
    suite = ProcessBenchSuite()
    only = suite.load(SuiteOptions(data=str(root), subsets=("math",), limit=3)).groups
    assert only.groups["group_id"].to_list() == ["math-6", "math-7", "math-8"]
    with pytest.raises(UsageError, match="--subset: 'omnimath' has no rows"):
        suite.load(SuiteOptions(data=str(root), subsets=("omnimath",)))


def hand_step_scores(model_dir: Path, problem: str, steps: list[str]) -> np.ndarray:
    """One explicit forward pass on the full solution written out by hand; softmax over the
    "+"/"-" logits at each tag token."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    text = f"<s><|user|>{problem}<|assistant|>" + "\n\n".join(s + TAG for s in steps) + "</s>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    tag = tokenizer.convert_tokens_to_ids(TAG)
    positions = [i for i, t in enumerate(ids) if t == tag]
    plus, minus = tokenizer.convert_tokens_to_ids(["+", "-"])
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, positions].double()
    return torch.softmax(logits[:, [plus, minus]], dim=-1)[:, 0].numpy()


def test_rmbench_run_processbench_with_prm_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = random_solutions("gsm8k", 10, seed=7, max_steps=6, max_words=6)
    data = tmp_path / "gsm8k.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    texts = [" ".join(WORDS)] * 20 + [" ".join(r["steps"]) for r in rows]
    model = make_tiny_prm(tmp_path / "prm", texts, "lm")

    expected_steps = {r["id"]: hand_step_scores(model, r["problem"], r["steps"]) for r in rows}
    threshold = float(np.median(np.concatenate(list(expected_steps.values()))))
    run_dir = tmp_path / "run"
    args = ["run", "--suite", "processbench", "--data", str(data), "--scorer", "prm"]
    args += ["--model", str(model), "-O", f"step_tag={TAG}", "-O", "aggregation=last"]
    args += ["--suite-option", f"threshold={threshold!r}", "--device", "cpu"]
    args += ["--run-dir", str(run_dir), "--bootstrap", "50", "-q"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err + out
    assert "f1" in out and "error_accuracy" in out

    scores = pl.read_parquet(run_dir / "scores.parquet")
    for r in rows:
        got = scores.filter(pl.col("group_id") == r["id"]).sort("candidate_index")["score"]
        np.testing.assert_allclose(got.to_numpy(), expected_steps[r["id"]], rtol=1e-5)

    def predicted(step_scores: np.ndarray) -> int:
        low = np.flatnonzero(step_scores < threshold)
        return int(low[0]) if low.size else -1

    hits = {r["id"]: predicted(expected_steps[r["id"]]) == r["label"] for r in rows}
    wrong = [hits[r["id"]] for r in rows if r["label"] != -1]
    right = [hits[r["id"]] for r in rows if r["label"] == -1]
    a, b = np.mean(wrong), np.mean(right)
    f1_by_hand = 0.0 if a + b == 0 else 2 * a * b / (a + b)
    summary = json.loads((run_dir / "summary.json").read_text())
    reported = {(m["name"], m["metric"]): m for m in summary["metrics"]}
    assert reported[("gsm8k", "error_accuracy")]["value"] == pytest.approx(a)
    assert reported[("gsm8k", "correct_accuracy")]["value"] == pytest.approx(b)
    assert reported[("gsm8k", "f1")]["value"] == pytest.approx(f1_by_hand)
    assert reported[("overall", "f1")]["value"] == pytest.approx(f1_by_hand)
    assert summary["scorer_report"] == {
        "inputs": sum(len(r["steps"]) for r in rows),
        "forward_passes": len(rows),  # one pass per solution; its prefixes read from it
        "inputs_read_from_a_longer_pass": sum(len(r["steps"]) - 1 for r in rows),
    }
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["scorer_identity"]["aggregation"] == "last"
    assert manifest["scorer_identity"]["steps"]["tag"] == TAG

    # --compare and gate rebuild the suite from the manifest, with the run's own threshold:
    # the run compared with a rerun of itself (all scores from cache) changes by exactly 0.
    get_suite("processbench").configure({})  # as a new process has it: the default 0.5
    assert suite_for_run(load_run(run_dir)).threshold == threshold
    again = tmp_path / "again"
    shutil.copytree(run_dir, again)
    get_suite("processbench").configure({})
    code, out, err = run_cli(
        [*args[:-5], "--run-dir", str(again), "--compare", str(run_dir)], capsys
    )
    assert code == 0, err + out
    numbers = json.loads((again / "comparison.json").read_text())["numbers"]
    assert numbers and all(n["difference"] == 0 for n in numbers)


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "gsm8k.jsonl"
    bad.write_text(json.dumps({"problem": "p", "steps": ["a", "b"], "label": 5}) + "\n")
    base = ["run", "--suite", "processbench", "--scorer", "prm", "--model", str(tmp_path)]
    base += ["--device", "cpu", "--run-dir", str(tmp_path / "run"), "-q"]
    code, out, err = run_cli([*base, "--data", str(bad), "-O", f"step_tag={TAG}"], capsys)
    assert code == 2 and "Traceback" not in err + out
    assert "gsm8k.jsonl row 0 (0-based): label 5 is out of range for 2 steps" in err + out
    bad.write_text(json.dumps({"problem": "p", "steps": ["a", "b"], "label": 1}) + "\n")
    code, out, err = run_cli([*base, "--data", str(bad), "-O", "temperature=0"], capsys)
    assert code == 2 and "Traceback" not in err + out
    assert "-O temperature: scorer 'prm' has no such option" in err + out
