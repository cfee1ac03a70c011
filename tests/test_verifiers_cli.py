"""Verifiers through the CLI: the ``verifier`` scorer in ``rmbench run``, a plugin verifier, the
reference column of the custom suite, and ``rmbench verify`` (resumable) feeding
``rmbench metrics --gold-col``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from run_helpers import run_cli

from rmbench import hookimpl
from rmbench.plugins import get_registry, register_plugin, reset_registry
from rmbench.verifiers.base import Verdict, Verifier, VerifyItem
from rmbench.verifiers.gold import verify_table
from rmbench.verifiers.math import MathVerifier


class ExactVerifier:
    """A plugin's verifier: the response, stripped, equals the reference."""

    name = "exact"
    description = "response equals the reference exactly"

    def check(self, item: VerifyItem) -> Verdict:
        return Verdict.of(item.response.strip() == item.reference.strip())


class CountingVerifier:
    """math, logging every check to ``log`` (one line per call, from whichever worker)."""

    name = "counting"
    description = "math, counting its checks"

    def __init__(self, log: Path) -> None:
        self.log = str(log)

    def check(self, item: VerifyItem) -> Verdict:
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(item.response) + "\n")
        return MathVerifier().check(item)


class ToyVerifiers:
    @hookimpl
    def register_verifiers(self, register: Callable[[Verifier], None]) -> None:
        register(ExactVerifier())


class ShadowingVerifiers:
    """Tries to take the built-in name ``math``; first registration wins."""

    @hookimpl
    def register_verifiers(self, register: Callable[[Verifier], None]) -> None:
        register(ExactVerifier())  # name clash with the plugin above when both are added
        shadow = ExactVerifier()
        shadow.name = "math"
        register(shadow)


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    reset_registry()
    yield
    reset_registry()


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


MULTI = ["--suite-option", "prompt=question", "--suite-option", "responses=responses"]
MULTI += ["--suite-option", "gold=correct", "--suite-option", "gold_kind=best_of_n"]


def run_verifier(
    data: Path, run_dir: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    args = ["run", "--suite", "custom", "--data", str(data), "--scorer", "verifier"]
    args += [*MULTI, "--run-dir", str(run_dir), "--bootstrap", "0", *extra]
    return run_cli(args, capsys)


def scores_of(run_dir: Path) -> list[float]:
    return pl.read_parquet(run_dir / "scores.parquet")["score"].to_list()


MATH_ROWS = [
    {
        "question": "What is one half?",
        "responses": [r"It is \boxed{0.5}", r"\boxed{\frac{1}{2}}", r"\boxed{2}"],
        "correct": [1, 1, 0],
        "answer": r"\frac{1}{2}",
    },
    {
        "question": "2+2?",
        "responses": [r"\boxed{4}", "I think it is 5", r"so \boxed{4.0}"],
        "correct": [1, 0, 0],  # the annotator missed that 4.0 is also right
        "answer": 4,
    },
]


def test_run_math_verifier_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_jsonl(tmp_path / "math.jsonl", MATH_ROWS)
    run_dir = tmp_path / "run"
    code, out, err = run_verifier(
        data, run_dir, capsys, "-O", "verifier=math", "--suite-option", "reference=answer"
    )
    assert code == 0, err
    assert scores_of(run_dir) == [1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    summary = json.loads((run_dir / "summary.json").read_text())
    report = summary["scorer_report"]
    assert report["statuses"] == {"passed": 4, "failed": 2}
    assert report["examples"]["failed"] == "math/math.jsonl:0#2: answer 2 differs from \\frac{1}{2}"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["scorer_identity"] == {
        "scorer": "verifier",
        "verifier": "math",
        "timeout_s": 10.0,
    }

    code, out, err = run_verifier(
        data, run_dir, capsys, "-O", "verifier=math", "--suite-option", "reference=answer"
    )
    assert code == 0, err
    assert "(0 inputs scored now, 6 from cache)" in out


def test_reference_is_part_of_the_cache_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two prompts with the same text and responses but different gold answers."""
    rows = [
        {
            "question": "x?",
            "responses": [r"\boxed{1}", r"\boxed{2}"],
            "correct": [1, 0],
            "answer": "1",
        },
        {
            "question": "x?",
            "responses": [r"\boxed{1}", r"\boxed{2}"],
            "correct": [0, 1],
            "answer": "2",
        },
    ]
    data = write_jsonl(tmp_path / "same.jsonl", rows)
    code, _, err = run_verifier(
        data, tmp_path / "run", capsys, "-O", "verifier=math", "--suite-option", "reference=answer"
    )
    assert code == 0, err
    assert scores_of(tmp_path / "run") == [1.0, 0.0, 0.0, 1.0]


def test_a_suite_without_references_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(tmp_path / "math.jsonl", MATH_ROWS)
    code, _, err = run_verifier(data, tmp_path / "run", capsys, "-O", "verifier=math")
    assert code == 2
    assert (
        "scorer 'verifier' checks responses against a reference, and suite 'custom' has none "
        "(with --suite custom, map one: --suite-option reference=COLUMN)"
    ) in " ".join(err.split())
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "option -O verifier is required by scorer 'verifier' (one of: math, python-tests)"),
        (["-O", "verifier=maths"], "unknown verifier 'maths'; available: math, python-tests"),
        (["-O", "verifier=math", "-O", "timeout=soon"], "option -O timeout: expected a positive"),
        (["-O", "verifier=math", "-O", "seed=1"], "option -O seed: scorer 'verifier' has no such"),
        (["-O", "verifier=math", "--model", "m"], "option --model: scorer 'verifier' runs a"),
    ],
)
def test_bad_scorer_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    data = write_jsonl(tmp_path / "math.jsonl", MATH_ROWS)
    code, _, err = run_verifier(
        data, tmp_path / "run", capsys, "--suite-option", "reference=answer", *options
    )
    assert code == 2
    assert message in " ".join(err.split())


def test_a_null_reference_rejects_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [*MATH_ROWS, {**MATH_ROWS[0], "answer": None}]
    data = write_jsonl(tmp_path / "math.jsonl", rows)
    code, _, err = run_verifier(
        data, tmp_path / "run", capsys, "-O", "verifier=math", "--suite-option", "reference=answer"
    )
    assert code == 0, err
    said = " ".join(err.split())
    assert "1 row rejected (missing_value:" in said and "column answer), row 2 (0-based)" in said
    assert len(scores_of(tmp_path / "run")) == 6


def test_python_tests_through_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = "def test_one():\n    assert add(1, 2) == 3\n\ndef test_neg():\n    assert add(-1, -1) == -2\n"
    rows = [
        {
            "question": "Write add(a, b).",
            "responses": [
                "```python\ndef add(a, b):\n    return a + b\n```",
                "```python\ndef add(a, b):\n    return abs(a) + abs(b)\n```",
                "```python\ndef add(a, b):\n    while True:\n        pass\n```",
            ],
            "correct": [1, 0, 0],
            "tests": tests,
        }
    ]
    data = write_jsonl(tmp_path / "code.jsonl", rows)
    code, _, err = run_verifier(
        data,
        tmp_path / "run",
        capsys,
        "-O", "verifier=python-tests", "-O", "timeout=2", "--suite-option", "reference=tests",
    )  # fmt: skip
    assert code == 0, err
    assert scores_of(tmp_path / "run") == [1.0, 0.5, 0.0]
    report = json.loads((tmp_path / "run" / "summary.json").read_text())["scorer_report"]
    assert report["statuses"] == {"passed": 1, "failed": 1, "timeout": 1}


def test_plugin_verifier_used_by_the_scorer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_plugin(ToyVerifiers(), name="toy_verifiers")
    rows = [
        {
            "question": "Say yes.",
            "responses": ["yes", " yes ", "no"],
            "correct": [1, 1, 0],
            "ref": "yes",
        },
        {"question": "Say no.", "responses": ["yes", "no"], "correct": [0, 1], "ref": "no"},
    ]
    data = write_jsonl(tmp_path / "words.jsonl", rows)
    code, _, err = run_verifier(
        data, tmp_path / "run", capsys, "-O", "verifier=exact", "--suite-option", "reference=ref"
    )
    assert code == 0, err
    assert scores_of(tmp_path / "run") == [1.0, 1.0, 0.0, 0.0, 1.0]

    code, out, _ = run_cli(["plugins", "--json"], capsys)
    plugins = {row["name"]: row for row in json.loads(out)}
    assert plugins["toy_verifiers"]["verifiers"] == ["exact"]
    assert plugins["builtin_verifiers"]["verifiers"] == ["math", "python-tests"]
    assert plugins["builtin_verifiers"]["scorers"] == ["verifier"]


def test_verifier_name_collisions_are_recorded() -> None:
    register_plugin(ToyVerifiers(), name="toy_verifiers")
    register_plugin(ShadowingVerifiers(), name="shadowing")
    registry = get_registry()
    assert registry.verifiers["math"].plugin == "builtin_verifiers"
    assert registry.verifiers["exact"].plugin == "toy_verifiers"
    [shadowing] = [p for p in registry.plugins if p.name == "shadowing"]
    assert shadowing.error == (
        "register_verifiers: verifier 'exact' is already registered by plugin 'toy_verifiers'; "
        "register_verifiers: verifier 'math' is already registered by plugin 'builtin_verifiers'"
    )


# --------------------------------------------------------------------------- rmbench verify

BON = pl.DataFrame(
    {
        "prompt_id": ["g1"] * 3 + ["g2"] * 3 + ["g3"] * 3,
        "score": [0.9, 0.5, 0.1, 0.8, 0.7, 0.2, 0.3, 0.2, 0.6],
        "response": [
            r"\boxed{3}", r"\boxed{4}", r"\boxed{5}",
            r"\boxed{1/3}", r"\boxed{\frac{1}{2}}", "the result is 0.5",
            r"\boxed{(x-1)(x+1)}", r"\boxed{x^2+1}", r"\boxed{x^2 - 1}",
        ],
        "answer": ["3"] * 3 + ["0.5"] * 3 + ["x^2-1"] * 3,
    }
)  # fmt: skip
BON_GOLD = [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0]


def verify_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "verify", str(data), "--verifier", "math", "--response-col", "response",
        "--reference-col", "answer", "--out", str(out), *extra,
    ]  # fmt: skip


def test_verify_then_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bon.parquet"
    BON.write_parquet(data)
    out = tmp_path / "gold.parquet"
    code, stdout, err = run_cli(verify_args(data, out), capsys)
    assert code == 0, err
    assert (
        "9 rows (9 distinct), checked now 9, kept from an earlier run 0; failed 4, passed 5"
        in stdout
    )
    written = pl.read_parquet(out)
    assert written.columns == [*BON.columns, "gold", "gold_status", "gold_reason"]
    assert written["gold"].to_list() == BON_GOLD
    assert not (tmp_path / "gold.parquet.partial").exists()

    code, stdout, err = run_cli(
        ["metrics", str(out), "--group-col", "prompt_id", "--gold-col", "gold", "--bootstrap", "0", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    values = {row["metric"]: row["value"] for row in json.loads(stdout)["metrics"]}
    # by hand: the top-scored response is right in g1 and g3, wrong in g2
    assert values["best_of_n_accuracy"] == pytest.approx(2 / 3)
    # correct-above-incorrect pairs: g1 2/2, g2 0/2, g3 2/2
    assert values["pairwise_accuracy"] == pytest.approx(2 / 3)


def test_verify_resumes_after_an_interruption(tmp_path: Path) -> None:
    frame = pl.concat([BON, BON.head(3)])  # three repeated rows: checked once each
    out = tmp_path / "gold.parquet"
    log = tmp_path / "checks.log"
    verifier = CountingVerifier(log)
    seen = 0

    def interrupt(n: int) -> None:
        nonlocal seen
        seen += n
        if seen == 4:
            raise KeyboardInterrupt

    common: dict[str, Any] = {"response_col": "response", "reference_col": "answer", "out": out}
    with pytest.raises(KeyboardInterrupt):
        verify_table(
            tmp_path / "bon.parquet", frame, verifier, workers=1, chunk_size=2,
            on_progress=interrupt, **common,
        )  # fmt: skip
    partial = tmp_path / "gold.parquet.partial"
    assert len(list(partial.glob("chunk-*.parquet"))) == 2  # 4 verdicts committed
    assert not out.exists()
    first = log.read_text().splitlines()

    outcome = verify_table(tmp_path / "bon.parquet", frame, verifier, workers=1, **common)
    assert (outcome.rows, outcome.unique, outcome.from_partial, outcome.checked_now) == (
        12,
        9,
        4,
        5,
    )
    checked = log.read_text().splitlines()
    # every distinct response checked exactly once over both runs
    assert len(first) == 4 and len(checked) == 9
    assert sorted(checked) == sorted(json.dumps(r) for r in BON["response"])
    assert pl.read_parquet(out)["gold"].to_list() == BON_GOLD + BON_GOLD[:3]
    assert not partial.exists()


def test_verify_refuses_partial_results_of_other_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bon.parquet"
    BON.write_parquet(data)
    out = tmp_path / "gold.parquet"
    partial = tmp_path / "gold.parquet.partial"
    partial.mkdir()
    (partial / "meta.json").write_text(json.dumps({"verifier": "math", "timeout_s": 3.0}))
    code, _, err = run_cli(verify_args(data, out), capsys)
    assert code == 2
    assert "holds verdicts made with different settings" in " ".join(err.split())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--response-col", "reply"], "no column 'reply' (option --response-col)"),
        (["--verifier", "maths"], "unknown verifier 'maths'"),
        (["--timeout", "0"], "option --timeout: expected a positive number of seconds"),
        (["--gold-col", "score"], "already has a column 'score'; choose another --gold-col"),
    ],
)
def test_verify_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    data = tmp_path / "bon.parquet"
    BON.write_parquet(data)
    code, _, err = run_cli([*verify_args(data, tmp_path / "gold.parquet"), *extra], capsys)
    assert code == 2
    assert message in " ".join(err.split())


def test_verify_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bon.parquet"
    BON.write_parquet(data)
    out = tmp_path / "gold.csv"
    out.write_text("keep me\n")
    code, _, err = run_cli(verify_args(data, out), capsys)
    assert code == 2 and "exists; pass --overwrite" in " ".join(err.split())
    code, _, err = run_cli(verify_args(data, out, "--overwrite"), capsys)
    assert code == 0, err
    assert pl.read_csv(out)["gold"].to_list() == BON_GOLD


MATH_SUITE = """
[suite]
name = "math-demo"
description = "math answers checked by a verifier"

[data]
source = "math.jsonl"
gold_kind = "best_of_n"

[data.columns]
prompt = "question"
responses = "responses"
gold = "correct"
reference = "answer"
"""


def test_a_suite_file_maps_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(tmp_path / "math.jsonl", MATH_ROWS)
    definition = tmp_path / "math.toml"
    definition.write_text(MATH_SUITE, encoding="utf-8")
    run_dir = tmp_path / "run"
    args = ["run", "--suite", str(definition), "--scorer", "verifier", "-O", "verifier=math"]
    code, _, err = run_cli([*args, "--run-dir", str(run_dir), "--bootstrap", "0"], capsys)
    assert code == 0, err
    assert scores_of(run_dir) == [1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    summary = json.loads((run_dir / "summary.json").read_text())
    [accuracy] = [m for m in summary["metrics"] if m["metric"] == "accuracy"]
    # by hand, correct-over-incorrect pairs per prompt: prompt 0 both ordered (1.0); prompt 1
    # 4 > "5" but 4 ties 4.0, which the annotator marked wrong (0.5); mean over prompts
    assert accuracy["value"] == pytest.approx(0.75)


def test_reference_column_and_fingerprint(tmp_path: Path) -> None:
    from rmbench.data.load import load_groups
    from rmbench.data.mapping import column_format
    from rmbench.data.model import ResponseGroups

    data = write_jsonl(tmp_path / "math.jsonl", MATH_ROWS)
    mapping = {"prompt": "question", "responses": "responses", "gold": "correct"}
    plain = load_groups(data, format=column_format(mapping, gold_kind="best_of_n")).groups
    with_ref = load_groups(
        data, format=column_format({**mapping, "reference": "answer"}, gold_kind="best_of_n")
    ).groups
    assert "reference" not in plain.groups.columns
    assert with_ref.groups["reference"].to_list() == [r"\frac{1}{2}", "4"]  # 4 read as text
    assert plain.fingerprint() != with_ref.fingerprint()
    without = ResponseGroups(with_ref.groups.drop("reference"), with_ref.candidates)
    assert without.fingerprint() == plain.fingerprint()  # data without references: unchanged
