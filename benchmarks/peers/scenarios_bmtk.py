"""bmtk peer scenarios: Allen/bmtk circuits from engine.generate.allen, some edited
afterwards the way real bmtk circuits differ (compare_bmtk.py)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _edit_types(path: Path, key: str, changes: dict[int, dict]) -> None:
    """Change/add columns of a bmtk types CSV (space separated, quoted)."""
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter=" ", quotechar='"'))
    for row in rows:
        for col, value in changes.get(int(row[key]), {}).items():
            row[col] = value
    fields = list(rows[0])
    for row in rows:
        fields += [c for c in row if c not in fields]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, delimiter=" ", quotechar='"')
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "NULL") for c in fields})


def _edit_json(path: Path, fn) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data, indent=2))


def _add_node_column(path: Path, pop: str, name: str, values) -> None:
    import h5py
    import numpy as np

    with h5py.File(path, "r+") as f:
        f[f"nodes/{pop}/0"].create_dataset(name, data=np.asarray(values))


def scenario_circuit(name: str, root: Path):
    sys.path.insert(0, str(REPO))
    import numpy as np

    from engine.generate.allen import EXC_EDGE_TYPE, INH_EDGE_TYPE, LGN_EDGE_TYPE
    from engine.generate.allen import generate_allen_network as gen

    iclamp = {"amp": 0.3, "delay": 20.0, "duration": 50.0}
    small = {"n_exc": 2, "n_inh": 1, "n_lgn": 3, "lgn_rate_hz": 10.0, "tstop": 200.0}
    net = {"n_exc": 12, "n_inh": 4, "n_lgn": 10, "lgn_rate_hz": 30.0, "tstop": 300.0, "seed": 3}
    if name == "iclamp_only":
        c = gen(root, **{**small, "lgn_rate_hz": 0.0}, iclamp=iclamp)
    elif name == "small":
        c = gen(root, **small, iclamp=iclamp)
    elif name == "csv_spikes":
        c = gen(root, **small, iclamp=iclamp, spike_format="csv")
        # bmtk 1.2.0's csv reader (spike_train_readers.py:458) needs a `population` column;
        # the generator writes only `timestamps node_ids`. Both runs read this file.
        ids, times = c.lgn_spikes
        lines = ["timestamps population node_ids"] + [
            f"{float(t)!r} lgn {int(i)}" for i, t in zip(ids, times, strict=True)
        ]
        (root / "inputs" / "lgn_spikes.csv").write_text("\n".join(lines) + "\n")
    elif name in ("network", "mpi2"):
        c = gen(root, **net)
    elif name == "dL5":
        c = gen(root, **small, iclamp=iclamp, dL=5.0)
    elif name == "iclamp_offgrid":
        c = gen(root, **small, iclamp={"amp": 0.3, "delay": 20.0125, "duration": 50.0125})
    elif name == "iclamp_train":
        c = gen(
            root,
            **small,
            iclamp={"amp": [0.3, 0.5], "delay": [20.0, 120.0], "duration": [30.0, 20.0]},
        )
    elif name == "delay_offgrid":
        c = gen(root, **net)
        changes = {LGN_EDGE_TYPE: {"delay": "2.0125"}}
        _edit_types(root / "network" / "lgn_to_cortex_edge_types.csv", "edge_type_id", changes)
        changes = {EXC_EDGE_TYPE: {"delay": "1.51"}, INH_EDGE_TYPE: {"delay": "0.99"}}
        _edit_types(root / "network" / "cortex_to_cortex_edge_types.csv", "edge_type_id", changes)
    elif name == "gaussianLL":
        c = gen(root, **net)
        rng = np.random.default_rng(7)
        n = c.populations["cortex"]
        _add_node_column(
            root / "network" / "cortex_nodes.h5", "cortex", "tuning_angle", rng.uniform(0, 360, n)
        )
        _add_node_column(
            root / "network" / "lgn_nodes.h5",
            "lgn",
            "tuning_angle",
            rng.uniform(0, 360, c.populations["lgn"]),
        )
        g = {"weight_function": "gaussianLL", "weight_sigma": "50.0"}
        _edit_types(
            root / "network" / "lgn_to_cortex_edge_types.csv",
            "edge_type_id",
            {LGN_EDGE_TYPE: {**g, "syn_weight": "0.006"}},
        )
        _edit_types(
            root / "network" / "cortex_to_cortex_edge_types.csv",
            "edge_type_id",
            {EXC_EDGE_TYPE: g, INH_EDGE_TYPE: g},
        )
    elif name == "placed":
        c = gen(root, **net, preselected=False)
    elif name == "threshold_celsius":
        c = gen(root, **small, iclamp=iclamp)

        def change(sim):
            sim["run"]["spike_threshold"] = 0.0
            sim["conditions"] = {"celsius": 16.3, "v_init": -70.0}

        _edit_json(c.simulation_config, change)
    elif name == "nml_biophysics":
        from engine.generate.allen import EXC_TYPE, cell_json
        from tests.test_neuroml_biophysics_only import write_biophysics_file

        c = gen(root, **small, iclamp=iclamp)
        models = root / "components" / "biophysical_neuron_models"
        path = models / "exc_hh.cell.nml"
        write_biophysics_file(path, cell_json("exc"))
        # bmtk's reader needs segmentGroup on every element, also where NeuroML's default
        # ("all") applies and libNeuroML leaves it out
        text = path.read_text().replace("<resistivity ", '<resistivity segmentGroup="all" ')
        path.write_text(text)
        change = {"model_template": "nml:exc_hh.cell.nml", "model_processing": "NULL"}
        _edit_types(root / "network" / "cortex_node_types.csv", "node_type_id", {EXC_TYPE: change})
    else:
        raise SystemExit(f"unknown scenario {name}")
    return c


SCENARIOS = {
    "iclamp_only": "2 exc + 1 inh cells, IClamp 0.3 nA 20-70 ms on exc, no input spikes",
    "small": "3 cells, IClamp + h5 virtual spikes (legacy /spikes/gids), recurrent Exp2Syn, preselected",
    "csv_spikes": "as small, input spikes from the csv file",
    "dL5": "as small, run.dL = 5 (nseg 31 on the 300 um dendrite)",
    "threshold_celsius": "as small, run.spike_threshold 0, celsius 16.3, v_init -70",
    "iclamp_offgrid": "IClamp delay/duration not on the dt grid (20.0125 / 50.0125)",
    "iclamp_train": "IClamp amp/delay/duration as lists (2 pulses)",
    "network": "16 cells (12 exc, 4 inh), 10 lgn at 30 Hz, 300 ms, preselected",
    "delay_offgrid": "as network, delays 2.0125 / 1.51 / 0.99 (off the 0.025 grid)",
    "gaussianLL": "as network, weight_function gaussianLL (tuning_angle, weight_sigma 50)",
    "placed": "as network, nsyns 1-3, target_sections + distance_range placement",
    "mpi2": "as network, both simulators on 2 MPI ranks",
    "nml_biophysics": "as small, exc cells from a bmtk-style nml: biophysics file (no morphology)",
}
