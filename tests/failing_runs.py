"""Helpers for tests of runs that must fail: the shipped example copied and broken, and a
runner that times how long every rank takes to stop after the failure is announced."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import MPIEXEC, REPO, cli_env

EXAMPLE = REPO / "configs" / "example"
FAULT_MECHANISMS = REPO / "tests" / "mod_faults"
TEMPLATE = "templates/BallStickHH.hoc"


@dataclass
class TimedRun:
    returncode: int
    stdout: str
    stderr: str
    seconds_after_failure: float | None  # from the first marker line on stderr to exit
    lines: list[str] = field(default_factory=list)

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("sonatasim:")]


def copy_example(root: Path, tstop: float = 50.0) -> Path:
    """A private copy of configs/example, shortened to `tstop` ms."""
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("output"))
    config = root / "simulation_config.json"
    data = json.loads(config.read_text())
    data["run"]["tstop"] = tstop
    config.write_text(json.dumps(data, indent=2))
    return config


def break_template(root: Path, statement: str, node_id: int, *, built: bool = False) -> None:
    """Make the example's template run `statement` when it builds node `node_id`: first
    thing in init(), or (`built`) once the sections exist."""
    path = root / TEMPLATE
    text = path.read_text()
    marker = "    biophys()\n}\n" if built else "    gid = $1\n"
    assert marker in text
    line = f"    if (gid == {node_id}) {{ {statement} }}\n"
    path.write_text(text.replace(marker, marker[:-2] + line + "}\n" if built else marker + line))


def launch(*args: str | Path, ranks: int = 1, stderr: int = subprocess.STDOUT) -> Any:
    """A running `sonatasim ARGS` (mpiexec for ranks > 1), text pipes for its output."""
    command = [sys.executable, "-m", "engine", *map(str, args)]
    if ranks > 1:
        command = [str(MPIEXEC), "-n", str(ranks), *command]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=cli_env(), cwd=REPO
    )


def run_timed(
    *args: str | Path, ranks: int = 1, marker: str = "sonatasim:", timeout: float = 300
) -> TimedRun:
    """`sonatasim ARGS` (under mpiexec for ranks > 1), stderr read as it comes."""
    process = launch(*args, ranks=ranks, stderr=subprocess.PIPE)
    seen: dict[str, float] = {}
    lines: list[str] = []
    output: list[str] = []

    def read_stderr() -> None:
        for line in process.stderr:
            lines.append(line)
            if marker in line and "first" not in seen:
                seen["first"] = time.monotonic()

    readers = [
        threading.Thread(target=read_stderr, daemon=True),
        threading.Thread(target=lambda: output.extend(process.stdout), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(
            f"still running after {timeout} s (a hang):\n{''.join(lines)}"
        ) from None
    ended = time.monotonic()
    for reader in readers:
        reader.join(10)
    after = ended - seen["first"] if "first" in seen else None
    stdout = "".join(output)
    return TimedRun(process.returncode, stdout, "".join(lines), after, lines)
