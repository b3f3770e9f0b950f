"""Malformed inputs made from the shipped example, one fault each, as a new user makes them.

Each case edits a private copy of configs/example (see `failing_runs.copy_example`) and
says which words the one error line must contain (the file and the key, or the cell).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from tests.failing_runs import break_template

TEMPLATE_FILE = "templates/BallStickHH.hoc"


@dataclass
class Case:
    name: str
    breaks: Callable[[Path], None]
    needles: tuple[str, ...]
    code: int = 2
    args: tuple[str, ...] = ()  # extra command line arguments ("mod..." = in the copy)
    output_dir: str | None = None  # the config's own output_dir (no --output-dir given)


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def sim(change: Callable[[dict], None]) -> Callable[[Path], None]:
    return lambda root: edit_json(root / "simulation_config.json", change)


def circuit(change: Callable[[dict], None]) -> Callable[[Path], None]:
    return lambda root: edit_json(root / "circuit_config.json", change)


def node_sets(change: Callable[[dict], None]) -> Callable[[Path], None]:
    return lambda root: edit_json(root / "node_sets.json", change)


def report(change: Callable[[dict], None]) -> Callable[[Path], None]:
    return sim(lambda d: change(d["reports"]["soma_voltage"]))


def replay(change: Callable[[dict], None]) -> Callable[[Path], None]:
    return sim(lambda d: change(d["inputs"]["input_spikes"]))


def remove(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).unlink()


def truncate(name: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        data = (root / name).read_bytes()
        (root / name).write_bytes(data[: len(data) // 2])

    return change


def text_file(name: str, text: str = "node_id,time\n1,2.5\n") -> Callable[[Path], None]:
    return lambda root: (root / name).write_text(text)


def edit_h5(name: str, change: Callable[[h5py.File], None]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        with h5py.File(root / name, "r+") as f:
            change(f)

    return edit


def template_text(old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / TEMPLATE_FILE
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))

    return edit


def template_statement(statement: str, node_id: int = 0) -> Callable[[Path], None]:
    return lambda root: break_template(root, statement, node_id)


def replay_spikes(node_ids: list[int], times: list[float]) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        with h5py.File(root / "input_spikes.h5", "r+") as f:
            group = f["spikes/thalamus"]
            for key, values, dtype in (
                ("node_ids", node_ids, np.uint64),
                ("timestamps", times, float),
            ):
                attrs = dict(group[key].attrs)
                del group[key]
                group.create_dataset(key, data=np.asarray(values, dtype=dtype))
                group[key].attrs.update(attrs)

    return write


def drop_edge_attributes(*names: str) -> Callable[[Path], None]:
    def change(f: h5py.File) -> None:
        for population in f["edges"]:
            for name in names:
                del f["edges"][population]["0"][name]

    return edit_h5("edges.h5", change)


def broken_mod(root: Path) -> None:
    folder = root / "mod_broken"
    folder.mkdir()
    (folder / "sonatatest_broken.mod").write_text(
        "NEURON {\n    SUFFIX SonataTestBroken\n}\nBREAKPOINT {\n    x = = 2\n}\n"
    )


def nothing(root: Path) -> None:
    pass


def several(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        for change in changes:
            change(root)

    return apply


UNWRITABLE = "/sys/sonatasim-bad-input-out"  # refused even to root (sysfs)

CASES = [
    # the simulation config
    Case(
        "config_not_json",
        text_file("simulation_config.json", "{ not json"),
        ("simulation_config.json",),
    ),
    Case(
        "tstop_text",
        sim(lambda d: d["run"].update(tstop="long")),
        ("simulation_config.json", "tstop"),
    ),
    Case("tstop_zero", sim(lambda d: d["run"].update(tstop=0)), ("run.tstop",)),
    Case("dt_negative", sim(lambda d: d["run"].update(dt=-0.025)), ("run.dt",)),
    Case("network_missing", sim(lambda d: d.update(network="./gone.json")), ("gone.json",)),
    Case("unknown_node_set", sim(lambda d: d.update(node_set="Layer7")), ("Layer7", "node_set")),
    Case("node_sets_file_missing", remove("node_sets.json"), ("node_sets.json",)),
    Case("node_sets_not_json", text_file("node_sets.json", "[oops"), ("node_sets.json",)),
    Case(
        "node_set_cycle",
        node_sets(lambda d: d.update(Loop1=["Loop2"], Loop2=["Cortex", "Loop1"])),
        ("node_sets.json", "Loop1", "includes itself"),
    ),
    Case(
        "node_set_unknown_population",
        several(
            node_sets(lambda d: d.update(Hippo={"population": "hippocampus"})),
            sim(lambda d: d.update(node_set="Hippo")),
        ),
        ("Hippo", "hippocampus"),
    ),
    Case(
        "simulator_unknown",
        sim(lambda d: d.update(target_simulator="NEST")),
        ("NEST", "target_simulator"),
    ),
    Case(
        "sort_order",
        sim(lambda d: d["output"].update(spikes_sort_order="by_mood")),
        ("spikes_sort_order",),
    ),
    Case(
        "unknown_mechanism_global",
        sim(lambda d: d["conditions"].update(mechanisms={"nosuch": {"x": 1}})),
        ("conditions.mechanisms.nosuch.x",),
    ),
    # reports
    Case(
        "report_type",
        report(lambda r: r.update(type="hologram")),
        ("simulation_config.json", "hologram", "type"),
    ),
    Case("report_dt", report(lambda r: r.update(dt=0.03)), ("soma_voltage", "dt")),
    Case(
        "report_start", report(lambda r: r.update(start_time=900.0)), ("soma_voltage", "start_time")
    ),
    Case(
        "report_variable", report(lambda r: r.update(variable_name="vv_nothing")), ("vv_nothing",)
    ),
    Case("report_cells", report(lambda r: r.update(cells="Layer9")), ("Layer9",)),
    # inputs
    Case("spike_file_missing", remove("input_spikes.h5"), ("input_spikes.h5", "spike_file")),
    Case("spike_file_text", text_file("input_spikes.h5"), ("input_spikes.h5", "spike_file")),
    Case("spike_file_truncated", truncate("input_spikes.h5"), ("input_spikes.h5",)),
    Case(
        "replay_nan_time",
        replay_spikes([0, 1, 2], [1.0, float("nan"), 3.0]),
        ("input_spikes.h5", "not finite"),
    ),
    Case(
        "replay_unknown_node",
        replay_spikes([0, 1, 95], [1.0, 2.0, 3.0]),
        ("input_spikes.h5", "95", "does not exist"),
    ),
    Case(
        "input_node_set",
        replay(lambda b: b.update(node_set="Nowhere")),
        ("Nowhere", "inputs.input_spikes.node_set"),
    ),
    # circuit files
    Case("circuit_not_json", text_file("circuit_config.json", "{"), ("circuit_config.json",)),
    Case("nodes_missing", remove("nodes.h5"), ("nodes.h5", "not found")),
    Case("nodes_truncated", truncate("nodes.h5"), ("nodes.h5",)),
    Case("nodes_text", text_file("nodes.h5"), ("nodes.h5",)),
    Case("edges_missing", remove("edges.h5"), ("edges.h5", "networks.edges")),
    Case("edges_truncated", truncate("edges.h5"), ("edges.h5", "networks.edges")),
    Case("edges_text", text_file("edges.h5"), ("edges.h5", "networks.edges")),
    Case(
        "edges_no_weight",
        drop_edge_attributes("conductance", "syn_weight"),
        ("edges.h5", "syn_weight"),
    ),
    Case(
        "edges_unknown_source",
        edit_h5(
            "edges.h5",
            lambda f: f["edges/cortex__cortex/source_node_id"].attrs.update(
                node_population="cortex9"
            ),
        ),
        ("cortex__cortex", "cortex9"),
    ),
    Case(
        "morphologies_dir",
        circuit(lambda d: d["components"].update(morphologies_dir="./nomorph")),
        ("nomorph",),
    ),
    Case(
        "models_dir",
        circuit(lambda d: d["components"].update(biophysical_neuron_models_dir="./nohoc")),
        ("nohoc", "BallStickHH.hoc"),
    ),
    Case(
        "model_template_kind",
        edit_h5(
            "nodes.h5",
            lambda f: f["nodes/cortex/0/model_template"].__setitem__(slice(None), b"emodel:X"),
        ),
        ("nodes.h5", "model_template"),
    ),
    # cells: templates and morphologies
    Case("template_missing", remove(TEMPLATE_FILE), ("BallStickHH.hoc", "model_template")),
    Case(
        "template_syntax",
        template_text("proc biophys() {", "proc biophys() { x = = 3"),
        ("BallStickHH.hoc",),
    ),
    Case(
        "template_misnamed",
        template_text("BallStickHH", "BallStickX"),
        ("BallStickHH.hoc", "does not define"),
    ),
    Case(
        "template_hoc_error",
        template_statement("soma[4] L = 3", 2),
        ("cell cortex node 2", "subscript"),
    ),
    Case(
        "template_quit", template_statement("quit()", 1), ("cell cortex node 1", "quit()"), code=4
    ),
    Case(
        "morphology_missing",
        remove("morphologies/ball_stick.swc"),
        ("ball_stick.swc", "cell cortex node 0"),
    ),
    Case(
        "morphology_garbage",
        text_file("morphologies/ball_stick.swc", "garbage\n"),
        ("ball_stick.swc", "cell cortex node 0"),
    ),
    # command line and environment
    Case("mechanisms_dir_missing", nothing, ("mod_none",), args=("--mechanisms", "mod_none")),
    Case(
        "mod_does_not_compile",
        broken_mod,
        ("sonatatest_broken.mod", "line 5"),
        args=("--mechanisms", "mod_broken"),
    ),
    Case(
        "output_dir_unwritable",
        sim(lambda d: d["output"].update(output_dir=UNWRITABLE)),
        ("output.output_dir", UNWRITABLE),
        output_dir=UNWRITABLE,
    ),
    Case("report_buffer", nothing, ("report-buffer-mb",), args=("--report-buffer-mb", "-1")),
    Case("lb_mode", nothing, ("multisplit",), args=("--lb-mode", "multisplit")),
]

BY_NAME = {case.name: case for case in CASES}
