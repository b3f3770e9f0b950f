"""Reading bmtk config files: JSON, manifest variables expanded, paths made absolute, and
the layouts that split or combine the simulation and circuit configs (config.py translates).

Relative paths resolve against the folder of the file that holds them (as libsonata), except
the ones SONATA resolves against output_dir.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.io.json_file import read_json

# Paths that SONATA resolves against output_dir, not the config folder.
OUTPUT_RELATIVE = {"spikes_file", "log_file", "file_name", "spikes_file_csv", "spikes_file_nwb"}
OUTPUT_RELATIVE |= {"contributions_dir", "file_name_nwb"}
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def load_json(path: Path, key: str | None = None) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError("config file not found", file=path, key=key)
    _, data = read_json(path)
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a JSON object", file=path)
    return data


def expand_manifest(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """Substitute `$VAR`, `${VAR}`, `${configdir}` and `${workingdir}` in every string."""
    variables = {"configdir": str(path.parent), "workingdir": os.getcwd()}
    manifest = data.get("manifest", {}) or {}
    if not isinstance(manifest, dict):
        raise ConfigError("manifest must be a JSON object", file=path, key="manifest")
    raw = {str(k).lstrip("$").strip("{}"): str(v) for k, v in manifest.items()}

    def substitute(text: str, depth: int = 0) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name in variables:
                return variables[name]
            if name in raw:
                if depth > 10:
                    raise ConfigError(f"manifest variable ${name} refers to itself", file=path)
                return substitute(raw[name], depth + 1)
            raise ConfigError(f"unknown manifest variable ${name}", file=path, key="manifest")

        return _VARIABLE.sub(one, text)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return substitute(value) if isinstance(value, str) and "$" in value else value

    return {k: walk(v) for k, v in data.items() if k != "manifest"}


def _is_path_key(key: str) -> bool:
    return key in ("network", "simulation") or key.endswith(("_file", "_dir", "_path"))


def absolutize(value: Any, base: Path, key: str = "") -> Any:
    """Path-valued keys made absolute against `base` (output-relative ones are left alone)."""
    if isinstance(value, dict):
        if key == "alternate_morphologies":
            return {
                k: str((base / v).resolve()) if isinstance(v, str) else v for k, v in value.items()
            }
        return {k: absolutize(v, base, k) for k, v in value.items()}
    if isinstance(value, list):
        return [absolutize(v, base, key) for v in value]
    if isinstance(value, str) and value and _is_path_key(key) and key not in OUTPUT_RELATIVE:
        return str((base / value).resolve())
    return value


def read_config(path: Path, key: str | None = None) -> dict[str, Any]:
    """One config file, manifest expanded and paths absolute."""
    path = path.resolve()
    return absolutize(expand_manifest(load_json(path, key), path), path.parent)


def split_configs(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None, Path]:
    """(simulation part, circuit part or None, circuit config path) of a config file.

    Handles the bmtk layouts: a simulation config naming its circuit config in `network`, a
    top-level config with `network` + `simulation` file names, and one file holding both.
    """
    sim = read_config(path)
    circuit_path = path
    if isinstance(sim.get("simulation"), str):
        network = sim.get("network")
        sim = {**read_config(Path(sim["simulation"]), "simulation"), **_without(sim, "simulation")}
        if isinstance(network, str):
            sim["network"] = network
    elif isinstance(sim.get("simulation"), dict):
        sim = {**sim.pop("simulation"), **sim}
    circuit: dict[str, Any] | None = None
    network = sim.get("network")
    if isinstance(network, dict):
        circuit = network
    elif "networks" in sim:
        circuit = {k: sim[k] for k in ("networks", "components", "node_sets_file") if k in sim}
    elif isinstance(network, str) and Path(network).is_file():
        circuit_path = Path(network)
        circuit = read_config(circuit_path, "network")
    elif network is None and (path.parent / "circuit_config.json").is_file():
        circuit_path = path.parent / "circuit_config.json"
        circuit = read_config(circuit_path, "network")
    return sim, circuit, circuit_path


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}
