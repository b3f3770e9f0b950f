"""The bad-input suite: each case of tests/bad_input_cases.py breaks one thing in a copy of
the shipped example; `run` must fail with its exit code and one line naming the file and
key (or the cell), no traceback and no output that looks whole; on 2 ranks a
representative subset says it once; `validate` finds the faults `run` would hit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bad_input_cases import BY_NAME, CASES, Case
from tests.conftest import run_cli
from tests.failing_runs import copy_example

TSTOP = 10.0  # ms: a case that got past its fault would finish fast (and then fail here)


def prepare(case: Case, tmp_path: Path) -> tuple[Path, list[str], Path]:
    """(config, extra arguments, output folder) of the case, built in tmp_path."""
    root = tmp_path / "example"
    config = copy_example(root, tstop=TSTOP)
    case.breaks(root)
    extra = [str(root / a) if a.startswith("mod") else a for a in case.args]
    if case.output_dir:
        return config, extra, Path(case.output_dir)
    out = tmp_path / "out"
    return config, ["--output-dir", str(out), *extra], out


def assert_one_clean_line(result, case: Case, out: Path) -> str:
    assert result.returncode == case.code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert "HDF5-DIAG" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("sonatasim:")]
    assert len(errors) == 1, result.stderr
    for needle in case.needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    if out.is_dir():
        assert not list(out.rglob("*.h5")), list(out.rglob("*"))
        assert not list(out.rglob("*.tmp-*")), list(out.rglob("*"))
    return errors[0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_run_fails_cleanly(case, tmp_path, mechanisms_built):
    config, args, out = prepare(case, tmp_path)
    result = run_cli("run", config, *args, check=False, timeout=300)
    assert_one_clean_line(result, case, out)


def test_the_suite_is_big_enough():
    assert len(CASES) >= 40


TWO_RANKS = [
    "tstop_text",
    "node_set_cycle",
    "edges_missing",
    "model_template_kind",
    "template_syntax",
    "morphology_garbage",
    "replay_nan_time",
    "output_dir_unwritable",
]


@pytest.mark.mpi
@pytest.mark.parametrize("name", TWO_RANKS)
def test_two_ranks_say_it_once(name, tmp_path, mechanisms_built):
    """Every rank hits these; rank 0 alone prints (no "[rank 1]" duplicate)."""
    case = BY_NAME[name]
    config, args, out = prepare(case, tmp_path)
    result = run_cli("run", config, *args, ranks=2, check=False, timeout=300)
    line = assert_one_clean_line(result, case, out)
    assert "[rank 1]" not in line


# faults `validate` used to miss although `run` hits them
VALIDATE = [
    "template_syntax",
    "morphology_garbage",
    "spike_file_text",
    "report_variable",
    "output_dir_unwritable",
    "mod_does_not_compile",
    "replay_unknown_node",
    "node_set_cycle",
    "edges_truncated",
]


@pytest.mark.parametrize("name", VALIDATE)
def test_validate_finds_it(name, tmp_path):
    case = BY_NAME[name]
    config, args, _ = prepare(case, tmp_path)
    extra = args if case.output_dir else args[2:]  # validate has no --output-dir
    result = run_cli("validate", config, *extra, check=False, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert problems, result.stderr
    assert any(all(n in p for n in case.needles if not n.startswith("cell ")) for p in problems), (
        problems
    )


def test_validate_warns_of_a_huge_step_count(tmp_path):
    config = copy_example(tmp_path / "example", tstop=1e7)
    data = json.loads(config.read_text())
    data["run"]["dt"] = 1e-5
    config.write_text(json.dumps(data))
    result = run_cli("validate", config, check=False)
    assert "1e+12 time steps" in result.stdout, result.stdout
