"""Smoke run of benchmarks/train_gpu_check.py on CPU (``--cpu-smoke``, fewer steps).

The GPU check is run by hand on a CUDA machine; this keeps it working between such runs: it
runs the script in a subprocess exactly as a user would and checks what it reports (the runs
completed with their precision, bf16 trained like float32, the resume was exact, no trl or
datasets imported). Timings are printed but never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_gpu_check.py"


def test_cpu_smoke_run_reports_consistent_precision_and_exact_resume(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    args = ["--cpu-smoke", "--steps", "4", "--eval-pairs", "16", "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--workdir", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    runs = report["runs"]
    assert runs["float32"]["precision"]["autocast"] is None
    assert runs["bfloat16"]["precision"]["autocast"] == "bfloat16"
    assert runs["bfloat16_gradient_checkpointing"]["precision"]["gradient_checkpointing"]
    assert all(r["steps"] == 4 and r["eval_pairs"] == 20 for r in runs.values())
    assert abs(report["bf16_vs_fp32"]["final_loss_diff"]) < 0.01
    assert report["bf16_rewards_off_bf16_grid"] > 0.9
    assert report["resume"] == {
        "stopped_at": 2,
        "resumed_from": 2,
        "finished": True,
        "losses_equal": True,
        "bitwise_equal": True,
        "max_abs_diff": 0.0,
        "tensors": report["resume"]["tensors"],
    }
    assert not report["imported"]["trl"] and not report["imported"]["datasets"]
