"""A run that did not finish never exits 0, names the cell, and stops every rank quickly.

Each case breaks the shipped example with hoc code or a mechanism of our own written to
fail one way (tests/mod_faults): hoc quit() in a template (what BBP templates do on an
unsupported morphology), a hoc error, hoc's execerror, hoc_execerror from compiled code,
a segmentation fault while a cell is built and during the run, and a rank killed mid-run.
Node 3 is built on rank 1 of 2 (round-robin), node 0 on rank 0.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.failing_runs import FAULT_MECHANISMS, break_template, copy_example, launch, run_timed

STOP_WITHIN_S = 10.0
CELL = "cell cortex node {} (template BallStickHH)"

# (name, hoc statement run by the template for the node, words the reason must contain)
TEMPLATE_FAULTS = [
    ("quit", "quit()", "quit()"),
    ("hoc_error", "soma[4] L = 3", "subscript"),
    ("execerror", 'execerror("unsupported morphology", "by design")', "unsupported morphology"),
    ("mechanism_execerror", "execerror_SonataTestCall()", "deliberate error"),
    ("segfault", "segfault_SonataTestCall()", "SIGSEGV"),
]


def broken_run(tmp_path, statement: str, node_id: int, ranks: int, *, built: bool = False):
    root = tmp_path / "example"
    config = copy_example(root)
    break_template(root, statement, node_id, built=built)
    out = tmp_path / "out"
    args = ["run", config, "--output-dir", out, "--mechanisms", FAULT_MECHANISMS]
    return run_timed(*args, ranks=ranks), out


def assert_failed_naming(result, out, node_id: int, reason: str, rank: int) -> None:
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = result.error_lines()
    assert len(errors) == 1, result.stderr
    assert CELL.format(node_id) in errors[0], errors[0]
    assert reason in errors[0], errors[0]
    assert ("[rank 1]" in errors[0]) == (rank == 1), errors[0]
    assert result.seconds_after_failure is not None
    assert result.seconds_after_failure < STOP_WITHIN_S, result.seconds_after_failure
    assert not (out / "spikes.h5").exists()


FAULT_IDS = [f[0] for f in TEMPLATE_FAULTS]


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
@pytest.mark.parametrize("name, statement, reason", TEMPLATE_FAULTS, ids=FAULT_IDS)
def test_template_fault(tmp_path, mechanisms_built, name, statement, reason, ranks):
    """Node 3 fails; on 2 ranks it is built by rank 1, which alone speaks."""
    result, out = broken_run(tmp_path, statement, 3, ranks)
    assert_failed_naming(result, out, 3, reason, rank=ranks - 1)


@pytest.mark.mpi
def test_quit_on_rank_0_of_2(tmp_path, mechanisms_built):
    result, out = broken_run(tmp_path, "quit()", 0, 2)
    assert_failed_naming(result, out, 0, "quit()", rank=0)


def _crash_statement(variable: str) -> str:
    return f"soma {{ insert SonataTestFault {variable}_SonataTestFault = 5 }}"


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_segfault_during_the_run_names_the_time(tmp_path, mechanisms_built, ranks):
    result, out = broken_run(tmp_path, _crash_statement("crash_at"), 3, ranks, built=True)
    assert result.returncode != 0
    errors = result.error_lines()
    assert len(errors) == 1, result.stderr
    assert "simulating t = 0..25 ms" in errors[0] and "SIGSEGV" in errors[0], errors[0]
    assert result.seconds_after_failure < STOP_WITHIN_S
    # a crash cannot clean up: half-written reports keep their temporary name (the next
    # run removes them), nothing looks whole
    assert not list(out.rglob("*.h5"))


@pytest.mark.mpi
def test_a_rank_killed_mid_run_stops_the_others(tmp_path, mechanisms_built):
    root = tmp_path / "example"
    config = copy_example(root)
    break_template(root, _crash_statement("die_at"), 3, built=True)
    out = tmp_path / "out"
    args = ["run", config, "--output-dir", out, "--mechanisms", FAULT_MECHANISMS]
    result = run_timed(*args, ranks=2, marker="SonataTestFault: dying")
    assert result.returncode != 0, result.stderr
    assert result.seconds_after_failure is not None, result.stderr
    assert result.seconds_after_failure < STOP_WITHIN_S
    assert not (out / "spikes.h5").exists()


def test_a_finished_run_still_exits_0(tmp_path, mechanisms_built):
    """The guard must not turn a good run into a failure (same broken template, unused)."""
    result, out = broken_run(tmp_path, "quit()", 999, 1)
    assert result.returncode == 0, result.stderr
    assert (out / "spikes.h5").exists()
    assert not result.error_lines()


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_sigterm_removes_half_written_outputs(tmp_path, mechanisms_built, ranks):
    """Slurm's time limit: SIGTERM mid-psolve removes the report temporaries at once, says
    so once, and the huge step count was announced with an estimate before the run."""
    root = tmp_path / "example"
    config = copy_example(root, tstop=1e7)
    data = json.loads(config.read_text())
    data["run"]["dt"] = 1e-5
    config.write_text(json.dumps(data))
    out = tmp_path / "out"
    process = launch("run", config, "--output-dir", out, ranks=ranks)
    lines = []
    deadline = time.monotonic() + 240
    for line in process.stdout:  # the warning is the last line before the run starts
        lines.append(line)
        if "time steps" in line or time.monotonic() > deadline:
            break
    time.sleep(1.0)
    try:
        assert list(out.glob("*.tmp-*")), "".join(lines)  # the report is being written
    except AssertionError:
        process.kill()
        raise
    process.send_signal(signal.SIGTERM)
    try:
        rest = process.communicate(timeout=STOP_WITHIN_S)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("SIGTERM did not stop the run within 10 s") from None
    stderr = "".join(lines) + (rest or "")
    assert process.returncode != 0
    assert "1e+12 time steps" in stderr and "compartments" in stderr, stderr
    said = [line for line in stderr.splitlines() if "interrupted by SIGTERM" in line]
    assert len(said) == 1 and "half-written outputs removed" in said[0], stderr
    assert not list(out.rglob("*.tmp-*")) and not list(out.rglob("*.h5"))
