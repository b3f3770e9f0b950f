"""Running the peer tools and sonatasim on a simulation config (project venv).

neurodamus runs in its own venv through nd_driver.py, bmtk in its own venv through
bmtk_driver.py; sonatasim through its CLI (or bmtk_driver.py's in-process mode for the
model dump). Every function returns the output directory and the wall time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SS_VENV = REPO / ".venv"
# bmtk in its own venv; its PyPI install, our mechanisms compiled by its nrnivmodl
BMTK_VENV = Path(os.environ.get("BMTK_VENV", "/tmp/bmtkvenv")).resolve()
MPIEXEC = SS_VENV / "bin" / "mpiexec"
LIBMPI = SS_VENV / "lib" / "libmpi.so.12"


def nd_package(nd_venv: Path) -> Path:
    out = subprocess.run(
        [str(nd_venv / "bin" / "python"), "-c",
         "import neurodamus, os; print(os.path.dirname(neurodamus.__file__))"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return Path(out.stdout.strip())


def build_nd_mechanisms(nd_venv: Path, mech_dir: Path, workdir: Path) -> Path:
    """neurodamus' data/mod + the circuit's mechanisms, no libsonatareport; cached."""
    nd_mods = nd_package(nd_venv) / "data" / "mod"
    files = sorted(nd_mods.glob("*.mod")) + sorted(mech_dir.glob("*.mod"))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    build = workdir / f"ndbuild-{digest.hexdigest()[:16]}"
    lib = build / "x86_64" / "libnrnmech.so"
    if lib.exists():
        return lib
    if build.exists():
        shutil.rmtree(build)
    (build / "mods").mkdir(parents=True)
    for f in files:
        shutil.copy(f, build / "mods" / f.name)
    env = {**os.environ, "PATH": f"{nd_venv / 'bin'}:{os.environ['PATH']}"}
    with open(build / "build.log", "w") as log:
        subprocess.run(
            [str(nd_venv / "bin" / "nrnivmodl"), "-incflags", "-DDISABLE_REPORTINGLIB", "mods"],
            cwd=build, env=env, stdout=log, stderr=subprocess.STDOUT, check=True,
        )  # fmt: skip
    return lib


def run_neurodamus(
    nd_venv: Path,
    config: Path,
    lib: Path,
    ranks: int,
    out: Path | None = None,
    driver: str = "nd_driver.py",
    env_extra: dict[str, str] | None = None,
) -> tuple[Path, float]:
    """neurodamus on `config`; its spikes and soma voltages go to `out` (nd_rank*.npz).
    `driver`: nd_driver.py or a wrapper of it in this folder (nd_timed.py)."""
    out = out or config.parent / "out_nd"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    env = {
        **os.environ,
        "NRNMECH_LIB_PATH": str(lib),
        "HOC_LIBRARY_PATH": str(nd_package(nd_venv) / "data" / "hoc"),
        "MPI_LIB_NRN_PATH": str(LIBMPI),
        "PATH": f"{nd_venv / 'bin'}:{os.environ['PATH']}",
        **(env_extra or {}),
    }
    env.pop("VIRTUAL_ENV", None)
    cmd = [str(MPIEXEC), "-n", str(ranks), str(nd_venv / "bin" / "python"),
           str(HERE / driver), str(config), str(out)]  # fmt: skip
    t0 = time.perf_counter()
    with open(out / "nd.log", "w") as log:
        rc = subprocess.run(cmd, cwd=out, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc:
        raise RuntimeError(f"neurodamus failed (rc {rc}), see {out / 'nd.log'}")
    return out, time.perf_counter() - t0


def dump_models(nd_venv: Path, configs: dict[str, Path], lib: Path, patches: str = "") -> dict:
    """Build (not run) the model in both tools, describe it with model_dump.py, diff."""
    root = configs["nd"].parent
    out = root / "dump"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    env = {
        **os.environ,
        "ND_DUMP_MODEL": "1",
        "NRNMECH_LIB_PATH": str(lib),
        "HOC_LIBRARY_PATH": str(nd_package(nd_venv) / "data" / "hoc"),
        "MPI_LIB_NRN_PATH": str(LIBMPI),
    }
    env.pop("VIRTUAL_ENV", None)
    with open(out / "nd.log", "w") as log:
        subprocess.run([str(MPIEXEC), "-n", "1", str(nd_venv / "bin" / "python"),
                        str(HERE / "nd_driver.py"), str(configs["nd"]), str(out)],
                       cwd=out, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)  # fmt: skip
    ss_env = {**os.environ, "SS_PATCH": patches}
    with open(out / "ss.log", "w") as log:
        subprocess.run([str(SS_VENV / "bin" / "python"), str(HERE / "ss_dump.py"),
                        str(configs["ss"]), str(out / "ss_model.json")],
                       cwd=out, env=ss_env, stdout=log, stderr=subprocess.STDOUT, check=True)  # fmt: skip
    a = json.loads((out / "model_rank0.json").read_text())
    b = json.loads((out / "ss_model.json").read_text())
    from model_comparison import diff_models  # benchmarks/peers is on sys.path (the CLIs)

    return diff_models(a, b)


def run_sonatasim(
    config: Path,
    ranks: int,
    patches: str = "",
    out: Path | None = None,
    options: tuple[str, ...] = (),
    driver: str = "",
    env_extra: dict[str, str] | None = None,
) -> tuple[Path, float]:
    """`sonatasim run config [options]`; outputs in the config's output_dir
    (`config/../out_ss` for the scenarios), or in `out` (then with the log beside it).
    `driver`: a script of this folder that runs the CLI (ss_timed.py) instead of it."""
    where = out.parent if out else config.parent
    extra = ["--output-dir", str(out)] if out else []
    out = out or config.parent / "out_ss"
    if out.exists():
        shutil.rmtree(out)
    env = {**os.environ, **(env_extra or {})}
    if patches:  # proposed fixes as monkeypatches (ss_patched.py); engine/ is untouched
        cmd = [str(SS_VENV / "bin" / "python"), str(HERE / "ss_patched.py"), patches, "--"]
    elif driver:
        cmd = [str(SS_VENV / "bin" / "python"), str(HERE / driver)]
    else:
        cmd = [str(SS_VENV / "bin" / "sonatasim")]
    cmd += ["run", str(config), "--no-progress", *extra, *options]
    if ranks > 1:
        env["MPI_LIB_NRN_PATH"] = str(LIBMPI)
        cmd = [str(MPIEXEC), "-n", str(ranks), *cmd]
    t0 = time.perf_counter()
    log_path = where / "ss.log"
    with open(log_path, "w") as log:
        rc = subprocess.run(
            cmd, cwd=where, env=env, stdout=log, stderr=subprocess.STDOUT
        ).returncode
    if rc:
        raise RuntimeError(f"sonatasim failed (rc {rc}), see {log_path}")
    return out, time.perf_counter() - t0


def add_node_ids(circuit) -> list[str]:
    """bmtk 1.2.0 reads /nodes/<pop>/node_id (population.py:166) and fails without it; our
    generator does not write it (SONATA makes it optional). Added to both runs' files."""
    import h5py
    import numpy as np

    added = []
    for path in sorted((circuit.root / "network").glob("*_nodes.h5")):
        with h5py.File(path, "r+") as f:
            for pop, group in f["nodes"].items():
                if "node_id" not in group:
                    n = group["node_type_id"].shape[0]
                    group.create_dataset("node_id", data=np.arange(n, dtype=np.uint64))
                    added.append(f"{path.name}:{pop}")
    # bmtk 1.2.0 (utils/sonata/population.py:441) wants the index dataset under its own
    # name `node_id_to_range`; SONATA/libsonata (and our writer) call it `node_id_to_ranges`.
    # A hard link to the same data gives both names.
    for path in sorted((circuit.root / "network").glob("*_edges.h5")):
        with h5py.File(path, "r+") as f:
            for pop, group in f["edges"].items():
                for index in group.get("indices", {}).values():
                    if "node_id_to_ranges" in index and "node_id_to_range" not in index:
                        index["node_id_to_range"] = index["node_id_to_ranges"]
                        added.append(f"{path.name}:{pop}:{index.name.split('/')[-1]}")
    return added


def _bmtk_config(circuit, out_dir: Path) -> Path:
    """A copy of the simulation config with bmtk's outputs under out_dir."""
    sim = json.loads(circuit.simulation_config.read_text())
    sim["manifest"]["$OUTPUT_DIR"] = str(out_dir)
    sim["network"] = str(circuit.circuit_config)
    path = circuit.root / "simulation_config_bmtk.json"
    path.write_text(json.dumps(sim, indent=2))
    return path


def _env(mpi: bool) -> dict:
    env = dict(os.environ)
    env["NEURON_MODULE_OPTIONS"] = "-nogui"
    env.pop("PYTHONPATH", None)
    if mpi:
        env["MPI_LIB_NRN_PATH"] = str(LIBMPI)
        env["HDF5_USE_FILE_LOCKING"] = "FALSE"
        env["PEER_MPI"] = "1"
    return env


def _run(cmd: list[str], log: Path, env: dict) -> float:
    started = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=log.parent)
    if proc.returncode != 0:
        tail = log.read_text().splitlines()[-25:]
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}); {log}:\n" + "\n".join(tail))
    return time.perf_counter() - started


def setup_bmtk(work: Path, venv: Path = BMTK_VENV) -> None:
    """The bmtk venv (created from PyPI if missing) and our mod/ compiled by it in work/mech."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = str(venv / "bin" / "pip")
        subprocess.run(  # pandas 3 empties bmtk 1.2's node sets; mpi4py for 2 ranks
            [pip, "install", "bmtk==1.2.0", "neuron==9.0.2", "pandas<3", "mpi4py", "mpich"],
            check=True,
        )
    mech = work / "mech"
    if mech.exists():
        shutil.rmtree(mech)
    mech.mkdir(parents=True)
    for mod in (REPO / "mod").glob("*.mod"):
        shutil.copy(mod, mech / mod.name)
    subprocess.run(
        [str(venv / "bin" / "nrnivmodl"), "."], cwd=mech, check=True, capture_output=True
    )
    print(f"bmtk venv {venv}; mechanisms compiled in {mech}")


def run_scenarios(names, run, headline, results_file: Path, width: int = 18) -> None:
    """Run each scenario (`run(name) -> dict`), print its headline, keep every result in
    `results_file` (merged with the results already there); a failure is reported, not raised."""
    import json

    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name in names:
        try:
            r = run(name)
        except Exception as exc:  # noqa: BLE001 (report and go on)
            r = {"scenario": name, "error": str(exc)}
            print(f"{name:{width}s} ERROR {exc}", flush=True)
        else:
            print(f"{name:{width}s} {headline(r)}", flush=True)
        results[name] = r
        results_file.write_text(json.dumps(results, indent=1))
    print(f"details: {results_file}")
