"""The circuit of bench_cells_neurodamus.py: BBP-style, real morphologies shared by many cells.

Cells are dealt round-robin over the real files of ../shared/data/morphologies
(MORPHOLOGIES: 2 Neurolucida .asc, 4 .swc; C210401C in both formats). neurodamus (and
SONATA's morphology lookup) uses one directory and extension per node population, as
real circuits lay them out (`morphologies_dir` swc, `alternate_morphologies`
neurolucida-asc), so the cells are two populations: `cortex_asc` (its components add
the asc directory) and `cortex_swc`. The two folders under <root>/morphologies/ hold
symbolic links to the shared files. Templates, mechanisms and edge attributes are the
peer harness' (circuit_neurodamus.py): PeerNeededCell / PeerPlainCell load their
morphology through Import3d (by extension), index sections, replace the axon (here
with `forall delete_section()` first, as BBP templates); synapses
ProbAMPANMDA_EMS / ProbGABAAB_EMS with BBP attributes. Afferent section ids are drawn
per morphology over the sections that exist once the template built the cell (soma,
dendrites, apicals: section_ids reads the template's own index on each file). A virtual population
`thalamus` replays Poisson spikes on every cell; recurrent edges stay in a population.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from circuit_neurodamus import (  # noqa: E402  (puts the repository on sys.path)
    TEMPLATES,
    Scenario,
    _bbp_attributes,
    replay_input,
    template_text,
    write_mechanisms,
    write_templates,
)

from engine.generate.base import add_edges, new_circuit, poisson_spikes  # noqa: E402
from engine.io.sonata_writer import (  # noqa: E402
    write_circuit_config,
    write_node_sets,
    write_nodes,
    write_simulation_config,
)
from engine.io.spike_file import write_spike_file  # noqa: E402
from tests.conftest import shared_path  # noqa: E402

MORPHOLOGIES = (  # (name, format) dealt round-robin to the cells
    ("C060114A7", "asc"),
    ("C210401C", "swc"),
    ("Pvalb_469628681_m", "swc"),
    ("C210401C", "asc"),
    ("Rorb_325404214_m", "swc"),
    ("Scnn1a_473845048_m", "swc"),
)
POPULATIONS = {"asc": "cortex_asc", "swc": "cortex_swc"}
FIBRES = "thalamus"
INH_FRACTION = 0.2  # the last cells of each population are inhibitory


def section_ids(files: list[Path]) -> dict[Path, np.ndarray]:
    """The section ids of each file that still exist once the template has built the
    cell: the template's own index (v(0.0001), set in Import3d's `all` order before the
    axon is replaced) of its soma, dendrites and apicals; the replacement axon has none."""
    from neuron import h

    name = "PeerPlainCell"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.hoc"
        path.write_text(template_text(name, needed=False, delete_sections=True))
        h.load_file(str(path))
    ids = {}
    for k, file in enumerate(files):
        cell = getattr(h, name)(k, str(file.parent), file.name, 0)
        index = [int(round(sec(0.0001).v)) for sec in cell.all]
        ids[file] = np.array(sorted(i for i in index if i >= 0), dtype=np.int64)
        del cell
    return ids


def _located(
    rng: np.random.Generator, pools: list[np.ndarray], tgt: np.ndarray, attrs: dict
) -> dict:
    """Section ids uniform over each target cell's pool, positions in [0, 1]."""
    sizes = np.array([p.size for p in pools])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pick = (rng.random(tgt.size) * sizes[tgt]).astype(np.int64)
    attrs["afferent_section_id"] = np.concatenate(pools).astype(np.int64)[starts[tgt] + pick]
    attrs["afferent_section_pos"] = np.round(rng.uniform(0.0, 1.0, tgt.size), 3)
    return attrs


def _morphology_folders(root: Path, shared: Path) -> dict[str, Path]:
    folders = {"swc": root / "morphologies" / "swc", "asc": root / "morphologies" / "ascii"}
    for fmt, folder in folders.items():
        folder.mkdir(parents=True)
        for name, kind in MORPHOLOGIES:
            if kind == fmt:
                (folder / f"{name}.{fmt}").symlink_to(shared / f"{name}.{fmt}")
    return folders


def write_bench_circuit(
    root: Path, cells: int, fibres: int, replay_per_cell: int, recurrent_per_cell: int,
    tstop: float, fibre_rate: float = 20.0, seed: int = 7,
) -> Path:  # fmt: skip
    """Write the circuit and its simulation config under root; returns the config."""
    shared = shared_path("morphologies")
    if shared is None:
        raise SystemExit("bench_cells_neurodamus.py needs the real morphologies of ../shared/data")
    rng = np.random.default_rng(seed)
    if root.exists():
        shutil.rmtree(root)
    circuit = new_circuit(root)
    folders = _morphology_folders(root, shared)
    files = [folders[fmt] / f"{name}.{fmt}" for name, fmt in MORPHOLOGIES]
    pools_of = section_ids(files)
    kinds = np.arange(cells) % len(MORPHOLOGIES)
    members = {fmt: [k for k in kinds if MORPHOLOGIES[k][1] == fmt] for fmt in POPULATIONS}
    circuit.populations = {POPULATIONS[f]: len(m) for f, m in members.items()} | {FIBRES: fibres}
    models = write_templates(root / "templates", delete_sections=True)
    mechs = write_mechanisms(root / "mechanisms")
    sc = Scenario(name="bench_cells", doc="", seed=seed)
    template_names = list(TEMPLATES)
    edge_pops = {}
    for fmt, kind in members.items():
        pop, n = POPULATIONS[fmt], len(kind)
        n_inh = int(round(n * INH_FRACTION))
        inh = np.arange(n) >= n - n_inh
        attrs = {
            "model_type": np.full(n, "biophysical", dtype=object),
            "model_template": np.array(
                [f"hoc:{template_names[i % 2]}" for i in range(n)], dtype=object
            ),
            "morphology": np.array([MORPHOLOGIES[k][0] for k in kind], dtype=object),
            "mtype": np.where(inh, "L4_BC", "L4_PC").astype(object),
            "etype": np.where(inh, "cNAC", "cADpyr").astype(object),
            **dict(zip("xyz", rng.uniform(0.0, 200.0, (3, n)), strict=True)),
        }
        dynamics = {
            "AIS_scaler": np.round(rng.uniform(1.0, 2.0, n), 3),
            "soma_scaler": np.full(n, 1.5),
            "threshold_current": np.round(rng.uniform(0.05, 0.15, n), 4),
            "holding_current": np.round(rng.uniform(-0.05, 0.0, n), 4),
        }
        write_nodes(root / "nodes.h5", pop, attrs, dynamics=dynamics)
        pools = [pools_of[files[k]] for k in kind]

        tgt = np.repeat(np.arange(n), replay_per_cell)
        src = rng.integers(0, fibres, tgt.size)
        exc = np.full(tgt.size, 113)
        name = f"{FIBRES}__{pop}"
        add_edges(circuit, name, FIBRES, pop, src, tgt,
                  _located(rng, pools, tgt, _bbp_attributes(rng, tgt.size, exc, sc, with_optional=True)))  # fmt: skip
        edge_pops[name] = {"type": "chemical"}
        tgt = np.repeat(np.arange(n), recurrent_per_cell)
        src = (tgt + rng.integers(1, n, tgt.size)) % n
        syn_type = np.where(inh[src], 13, 120)
        name = f"{pop}__{pop}"
        add_edges(circuit, name, pop, pop, src, tgt,
                  _located(rng, pools, tgt, _bbp_attributes(rng, tgt.size, syn_type, sc, with_optional=False)))  # fmt: skip
        edge_pops[name] = {"type": "chemical"}
    write_nodes(root / "nodes.h5", FIBRES, {"model_type": np.full(fibres, "virtual")})
    write_spike_file(
        root / "input_spikes.h5", {FIBRES: poisson_spikes(fibres, fibre_rate, tstop, rng)}
    )
    cortex = [f"Cortex_{fmt}" for fmt in POPULATIONS]
    write_node_sets(
        root / "node_sets.json",
        {f"Cortex_{fmt}": {"population": pop} for fmt, pop in POPULATIONS.items()}
        | {"Cortex": cortex, "Thalamus": {"population": FIBRES}},
    )
    node_pops = {pop: {"type": "biophysical"} for pop in POPULATIONS.values()}
    node_pops[POPULATIONS["asc"]]["alternate_morphologies"] = {
        "neurolucida-asc": str(folders["asc"])
    }
    node_pops[FIBRES] = {"type": "virtual"}
    write_circuit_config(
        root / "circuit_config.json",
        nodes=[{"nodes_file": str(root / "nodes.h5"), "populations": node_pops}],
        edges=[{"edges_file": str(root / "edges.h5"), "populations": edge_pops}],
        components={
            "morphologies_dir": str(folders["swc"]),
            "biophysical_neuron_models_dir": str(models),
            "mechanisms_dir": str(mechs),
        },
        node_sets_file=str(root / "node_sets.json"),
    )
    config = root / "simulation_config.json"
    write_simulation_config(
        config,
        network=str(root / "circuit_config.json"),
        run={"tstop": tstop, "dt": 0.025, "random_seed": 3, "spike_threshold": -30.0},
        conditions={"celsius": 6.3, "v_init": -65.0},
        output={"output_dir": str(root / "out"), "spikes_file": "spikes.h5"},
        inputs={"fibres": replay_input(root / "input_spikes.h5", tstop)},
        node_sets_file=str(root / "node_sets.json"),
    )
    return config
