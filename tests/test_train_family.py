"""``rmbench train --flip-fractions``: a golden/proxy family of reward models from one command.

Members must differ only in label noise (same split, same data order, nested flips), a rerun
must skip finished members and resume an interrupted one, and on a learnable task held-out
accuracy must fall as noise rises. Tiny random BERT bases, built locally.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest
import torch
from run_helpers import run_cli
from safetensors.torch import load_file
from test_train import (
    BAD,
    GOOD,
    NEUTRAL,
    _last_line,
    _one_thread,
    config,
    make_bert_base,
    synthetic_rows,
    train_records,
    write_jsonl,
)

from rmbench.train.family import member_name, parse_fractions, run_family
from rmbench.train.noise import flip_mask
from rmbench.train.runner import run_training

__all__ = ["_one_thread"]  # the autouse fixture applies here too


def subtle_rows(n: int, seed: int = 0) -> list[dict]:
    """Responses of neutral words with one telling word each: learnable, but not so easily
    that 45% flipped labels leave the model as good as clean ones."""
    rng = random.Random(seed)

    def response(signal: list[str]) -> str:
        words = [rng.choice(NEUTRAL) for _ in range(5)]
        words.insert(rng.randint(0, 5), rng.choice(signal))
        return " ".join(words)

    return [
        {
            "id": f"q{i}",
            "prompt": f"question {i} " + " ".join(rng.choice(NEUTRAL) for _ in range(4)),
            "chosen": response(GOOD),
            "rejected": response(BAD),
        }
        for i in range(n)
    ]


def test_members_differ_only_in_nested_noise_and_accuracy_falls_with_it(
    tmp_path: Path, capsys
) -> None:
    rows = subtle_rows(360)
    data = write_jsonl(tmp_path / "prefs.jsonl", rows)
    bert = make_bert_base(tmp_path / "bert", rows)
    fam = tmp_path / "fam"
    args = ["train", "--data", str(data), "--base", str(bert), "-o", str(fam), "-q"]
    args += ["--device", "cpu", "--lr", "2e-3", "--batch-size", "8", "--eval-fraction", "0.5"]
    args += ["--bootstrap", "200", "--flip-fractions", "0.45,0,0.25"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "family finished" in out and out.count("accuracy 0.") + out.count("accuracy 1.") == 3

    manifest = json.loads((fam / "family_manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["flip_fractions"] == [0.0, 0.25, 0.45]
    members = manifest["members"]
    assert [m["run_dir"] for m in members] == ["flip-0.00", "flip-0.25", "flip-0.45"]
    assert manifest["split"] == {
        "sha256": members[0]["split"]["sha256"],
        "train_pairs": 180,
        "eval_pairs": 180,
        "train_prompts": 180,
        "eval_prompts": 180,
    }
    assert all(m["split"] == manifest["split"] for m in members)  # one split, one order

    # nested flips, exactly the pairs the noise module picks for the shared seed
    flipped = [json.loads((fam / m["run_dir"] / "flipped_pairs.json").read_text()) for m in members]
    sets = [set(f["pair_ids"]) for f in flipped]
    assert sets[0] == set() and all(a < b for a, b in itertools.pairwise(sets))
    assert all(len(s) == m["flipped_train_pairs"] for s, m in zip(sets, members, strict=True))
    train_ids, mask = _train_ids_mask(fam, 0.45)
    assert sets[2] == {pid for pid, flip in zip(train_ids, mask, strict=True) if flip}
    assert not sets[2] & set(_eval_ids(fam / "flip-0.00"))  # training labels only

    # the same pairs in the same order: per-step token counts agree (a flip swaps sides only)
    tokens = [[r["tokens"] for r in train_records(fam / m["run_dir"])] for m in members]
    assert tokens[0] == tokens[1] == tokens[2] and len(tokens[0]) == 23

    acc = [m["eval_accuracy"] for m in members]
    assert [a["value"] for a in acc] == sorted((a["value"] for a in acc), reverse=True)
    assert acc[0]["value"] > 0.95 and acc[0]["value"] - acc[2]["value"] > 0.15
    assert acc[0]["ci_low"] > acc[2]["ci_high"]  # the drop is beyond resampling noise
    losses = [m["eval_loss"] for m in members]
    assert losses == sorted(losses)
    for m in members:  # each member is a complete run with its exported model
        assert (fam / m["model"] / "model.safetensors").is_file()


def _eval_ids(run_dir: Path) -> list[str]:
    import polars as pl

    return pl.read_parquet(run_dir / "eval_scores.parquet")["pair_id"].to_list()


def _train_ids_mask(fam: Path, fraction: float) -> tuple[list[str], list[bool]]:
    """Training pair ids (all pairs minus held-out ones) and the noise module's mask for them."""
    manifest = json.loads((fam / member_name(fraction) / "train_manifest.json").read_text())
    held = set(_eval_ids(fam / member_name(fraction)))
    lines = Path(manifest["config"]["data"]).read_text().splitlines()
    ids = [json.loads(x)["id"] for x in lines if json.loads(x)["id"] not in held]
    return ids, flip_mask(ids, fraction, manifest["config"]["seed"])


def test_rerun_skips_finished_members_and_resumes_the_interrupted_one(tmp_path: Path) -> None:
    rows = synthetic_rows(120, seed=4)
    data = write_jsonl(tmp_path / "prefs.jsonl", rows)
    bert = make_bert_base(tmp_path / "bert", rows)
    common = {"batch_size": 8, "epochs": 1.0, "save_steps": 2}
    cfg = config(data, bert, tmp_path / "fam", **common)

    first = run_family(config(data, bert, tmp_path / "fam", stop_after_steps=5, **common), (0, 0.3))
    assert not first.finished and [m.status for m in first.members] == ["stopped", "pending"]
    assert first.manifest["status"] == "stopped" and first.members[0].record["step"] == 5

    second = run_family(cfg, (0.0, 0.3))
    assert second.finished and [m.status for m in second.members] == ["finished", "finished"]
    assert second.members[0].resumed_from == 5 and not second.members[0].skipped
    assert second.members[1].resumed_from is None

    models = {
        f: tmp_path / "fam" / member_name(f) / "model" / "model.safetensors" for f in (0, 0.3)
    }
    stamps = {f: p.stat().st_mtime_ns for f, p in models.items()}
    third = run_family(cfg, (0.0, 0.1, 0.3))  # a new noise level joins the family
    assert [m.skipped for m in third.members] == [True, False, True]
    assert {f: p.stat().st_mtime_ns for f, p in models.items()} == stamps
    assert [m["flip_fraction"] for m in third.manifest["members"]] == [0.0, 0.1, 0.3]
    assert len(third.manifest["invocations"]) == 3

    # the resumed member is exactly the single run `rmbench train --flip-fraction 0.0` makes
    single = run_training(config(data, bert, tmp_path / "single", **common))
    a = load_file(single.output / "model.safetensors")
    b = load_file(models[0])
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_family_dir_of_another_configuration_is_refused(tmp_path: Path) -> None:
    rows = synthetic_rows(40)
    data = write_jsonl(tmp_path / "prefs.jsonl", rows)
    bert = make_bert_base(tmp_path / "bert", rows)
    run_family(config(data, bert, tmp_path / "fam", max_steps=1), (0.0,))
    from rmbench.errors import UsageError

    with pytest.raises(UsageError, match="different configuration"):
        run_family(config(data, bert, tmp_path / "fam", max_steps=2), (0.0,))


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--flip-fractions", "0,abc"], "'abc' is not a number"),
        (["--flip-fractions", "0,1.2"], "must lie in [0, 1)"),
        (["--flip-fractions", "0.1,0.1"], "repeats"),
        (["--flip-fractions", "0,0.1", "--flip-fraction", "0.2"], "contradict"),
        (["--flip-fractions", "0,0.1", "--output", "elsewhere"], "--output"),
    ],
)
def test_bad_family_options_are_one_line_errors(
    tmp_path: Path, capsys, extra: list[str], needle: str
) -> None:
    rows = synthetic_rows(10)
    data = write_jsonl(tmp_path / "prefs.jsonl", rows)
    args = ["train", "--data", str(data), "--base", str(tmp_path / "none"), "-o"]
    args += [str(tmp_path / "fam"), "-q", "--device", "cpu", *extra]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and needle in _last_line(err)
    assert not (tmp_path / "fam").exists()


def test_member_names_are_exact_and_distinct() -> None:
    assert parse_fractions(" 0.4, 0,0.1 ") == (0.0, 0.1, 0.4)
    names = [member_name(f) for f in (0.0, 0.1, 0.125, 0.4)]
    assert names == ["flip-0.00", "flip-0.10", "flip-0.125", "flip-0.40"]
