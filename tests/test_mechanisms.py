"""Mechanism compilation, the build cache and loading, with real nrnivmodl and NEURON (our
own NMODL's behaviour: tests/test_own_mechanisms.py).

NEURON loads one mechanism library per process, so everything that loads a library runs in
a subprocess. The module compiles two libraries in all (ours alone; ours plus a small
extra directory) into a private cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from engine import mechanisms
from engine.errors import MechanismError

REPO = Path(__file__).resolve().parent.parent

LEAK_MOD = """\
NEURON {
    SUFFIX sonatatest_leak
    NONSPECIFIC_CURRENT i
    RANGE gl, el
}
PARAMETER { gl = 1e-4 el = -70 }
ASSIGNED { v i }
BREAKPOINT { i = gl * (v - el) }
"""

BROKEN_MOD = """\
NEURON {
    SUFFIX sonatatest_broken
    RANGE gx
}
PARAMETER { gx = 1 }
BREAKPOINT { gx = undefined_thing(
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    """A private SONATASIM_CACHE_DIR for this module, restored afterwards."""
    path = tmp_path_factory.mktemp("mechcache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SONATASIM_CACHE_DIR", str(path))
        mp.delenv("SONATASIM_MOD_DIR", raising=False)
        yield path


@pytest.fixture(scope="module")
def built(cache: Path) -> Path:
    """Our default mechanisms, compiled once for the module."""
    return mechanisms.build_mechanisms([])


@pytest.fixture(scope="module")
def leak_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("circuit_mod")
    (directory / "sonatatest_leak.mod").write_text(LEAK_MOD)
    return directory


def _child_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SONATASIM_CACHE_DIR"] = str(cache)
    env["SONATASIM_NO_MPI"] = "1"
    env["NEURON_MODULE_OPTIONS"] = "-nogui"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("NRN_NMODL_PATH", None)
    return env


PREAMBLE = """\
import json, sys
from pathlib import Path
import numpy as np
from engine import mechanisms, simulator
sim = simulator.start(use_mpi=False)
h = sim.h
lib = mechanisms.load_mechanisms([Path(p) for p in EXTRA], sim)
"""


def run_neuron(script: str, cache: Path, cwd: Path, extra: Sequence[Path] = ()) -> dict:
    """Run `script` after loading mechanisms in a fresh process; it prints one JSON line."""
    code = f"EXTRA = {[str(p) for p in extra]!r}\n" + PREAMBLE + textwrap.dedent(script)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,  # not the repository: NEURON auto-loads ./<arch>/libnrnmech.so
        env=_child_env(cache),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON from child:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------- the cache


def test_build_layout_and_cache_hit(cache: Path, built: Path) -> None:
    root = cache / "mechanisms"
    build_dir = built.parent.parent
    assert build_dir.parent == root
    assert (build_dir / mechanisms.MARKER).is_file()
    assert (build_dir / mechanisms.LOG_NAME).is_file()
    assert built.name.startswith("libnrnmech")
    marker_mtime = (build_dir / mechanisms.MARKER).stat().st_mtime_ns
    listing = sorted(p.name for p in root.iterdir())
    inside = sorted(str(p.relative_to(build_dir)) for p in build_dir.rglob("*"))

    start = time.perf_counter()
    again = mechanisms.build_mechanisms([])
    elapsed = time.perf_counter() - start

    assert again == built
    assert elapsed < 2.0, f"cache hit took {elapsed:.1f} s: did it recompile?"
    assert (build_dir / mechanisms.MARKER).stat().st_mtime_ns == marker_mtime
    assert sorted(p.name for p in root.iterdir()) == listing
    assert sorted(str(p.relative_to(build_dir)) for p in build_dir.rglob("*")) == inside
    assert not [p for p in root.iterdir() if p.name.startswith(".build-")]


def test_key_depends_on_contents(tmp_path: Path, leak_dir: Path) -> None:
    base = mechanisms.build_key(mechanisms.collect_sources([]))
    with_leak = mechanisms.build_key(mechanisms.collect_sources([leak_dir]))
    assert base != with_leak
    extra = tmp_path / "mods"
    extra.mkdir()
    mod = extra / "sonatatest_leak.mod"
    mod.write_text(LEAK_MOD)
    assert mechanisms.build_key(mechanisms.collect_sources([extra])) == with_leak
    mod.write_text(LEAK_MOD.replace("el = -70", "el = -71"))
    assert mechanisms.build_key(mechanisms.collect_sources([extra])) != with_leak


def test_circuit_file_wins_name_clash(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ours = mechanisms.default_mod_dir() / "sonatasim_exp2syn.mod"
    theirs = tmp_path / "sonatasim_exp2syn.mod"
    theirs.write_text(ours.read_text().replace("tau_d = 1.7", "tau_d = 3.0"))
    with caplog.at_level("WARNING", logger="sonatasim"):
        sources = mechanisms.collect_sources([tmp_path])
    assert sources["sonatasim_exp2syn.mod"] == theirs
    assert sources["sonatasim_vecstim.mod"].parent == mechanisms.default_mod_dir()
    assert "sonatasim_exp2syn.mod" in caplog.text


def test_missing_or_empty_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(MechanismError, match="does not exist") as info:
        mechanisms.build_mechanisms([missing])
    assert str(missing) in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README").write_text("no mechanisms here")
    with pytest.raises(MechanismError, match="no .mod files") as info:
        mechanisms.build_mechanisms([empty])
    assert str(empty) in str(info.value)


def test_bad_mod_reports_compiler_output(cache: Path, tmp_path: Path) -> None:
    (tmp_path / "sonatatest_broken.mod").write_text(BROKEN_MOD)
    key = mechanisms.build_key(mechanisms.collect_sources([tmp_path]))
    with pytest.raises(MechanismError) as info:
        mechanisms.build_mechanisms([tmp_path])
    message = str(info.value)
    # one line: the .mod file itself, its first error with the line, and where the log is
    assert info.value.file == str(tmp_path / "sonatatest_broken.mod")
    assert "does not compile: line" in message and "\n" not in message
    log = Path(message.split("nrnivmodl's log: ")[1].rstrip(")"))
    assert log.is_file() and log.name == mechanisms.LOG_NAME
    assert "sonatatest_broken" in log.read_text()  # the compiler's own output is kept
    assert not (cache / "mechanisms" / key).exists()


def test_concurrent_builds_share_one_result(cache: Path, leak_dir: Path, tmp_path: Path) -> None:
    code = (
        "from pathlib import Path; from engine.mechanisms import build_mechanisms; "
        f"print(build_mechanisms([Path({str(leak_dir)!r})]))"
    )
    env = _child_env(cache)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=600)[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outputs[0] == outputs[1]
    root = cache / "mechanisms"
    assert not [p for p in root.iterdir() if p.name.startswith(".build-")]

    result = run_neuron(
        """
        sec = h.Section(name="s")
        sec.insert("sonatatest_leak")
        print(json.dumps({"lib": str(lib), "el": sec(0.5).sonatatest_leak.el,
                          "vecstim": mechanisms.mechanism_exists(h, "SonataVecStim")}))
        """,
        cache,
        tmp_path,
        extra=[leak_dir],
    )
    assert result == {"lib": outputs[0], "el": -70.0, "vecstim": True}


def test_load_once_per_process(cache: Path, built: Path, tmp_path: Path) -> None:
    other = tmp_path / "copy" / built.name
    other.parent.mkdir()
    other.write_bytes(built.read_bytes())
    result = run_neuron(
        f"""
        same = mechanisms.load_mechanisms([], sim)
        try:
            mechanisms._load_library(h, Path({str(other)!r}))
            error = ""
        except mechanisms.MechanismError as exc:
            error = str(exc)
        print(json.dumps({{"lib": str(lib), "same": str(same), "error": error,
                          "exists": mechanisms.mechanism_exists(h, "SonataExp2Syn"),
                          "absent": mechanisms.mechanism_exists(h, "NoSuchThing")}}))
        """,
        cache,
        tmp_path,
    )
    assert result["lib"] == result["same"] == str(built.resolve())
    assert "mechanisms already loaded in this process" in result["error"]
    assert result["exists"] and not result["absent"]


# ---------------------------------------------------------------------------- MPI

MPI_SCRIPT = """
import json, sys
from pathlib import Path
from engine import mechanisms, simulator
sim = simulator.start()
out_dir = Path(sys.argv[1])
extra = [Path(p) for p in sys.argv[2:]]
try:
    lib = mechanisms.load_mechanisms(extra, sim)
    result = {"rank": sim.rank, "nranks": sim.nranks, "lib": str(lib),
              "ok": mechanisms.mechanism_exists(sim.h, "SonataVecStim")}
except mechanisms.MechanismError as exc:
    result = {"rank": sim.rank, "nranks": sim.nranks, "error": exc.plain_message}
# one file per rank: mpiexec may interleave the ranks' stdout within a line
(out_dir / f"rank{sim.rank}.json").write_text(json.dumps(result))
"""


@pytest.mark.mpi
def test_load_under_mpi(cache: Path, built: Path, tmp_path: Path) -> None:
    mpiexec = Path(sys.prefix) / "bin" / "mpiexec"
    if not mpiexec.exists():
        pytest.skip("no mpiexec in this environment")
    script = tmp_path / "load.py"
    script.write_text(MPI_SCRIPT)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "sonatatest_broken.mod").write_text(BROKEN_MOD)
    env = _child_env(cache)
    env.pop("SONATASIM_NO_MPI")
    env["MPI_LIB_NRN_PATH"] = str(Path(sys.prefix) / "lib" / "libmpi.so.12")

    def launch(name: str, *args: str) -> list[dict]:
        out_dir = tmp_path / name
        out_dir.mkdir()
        command = [str(mpiexec), "-n", "2", sys.executable, str(script), str(out_dir), *args]
        proc = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
        return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in (0, 1)]

    good = launch("good")
    assert [row["rank"] for row in good] == [0, 1]
    assert all(row["nranks"] == 2 and row["ok"] for row in good)
    assert {row["lib"] for row in good} == {str(built)}

    bad = launch("bad", str(broken))  # rank 0's compile fails: both ranks raise, none hangs
    assert [row["rank"] for row in bad] == [0, 1]
    assert bad[0]["error"] == bad[1]["error"]
    assert "does not compile" in bad[0]["error"]  # the .mod named with its first error
