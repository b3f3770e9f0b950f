"""The two SONATA config files read with libsonata, with messages that name the file and key.

libsonata's own messages are terse and do not name a wrongly typed key; the checks here do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import libsonata

from engine.errors import ConfigError
from engine.io.json_file import read_json


def load_simulation_config(path: Path) -> libsonata.SimulationConfig:
    if not path.exists():
        raise ConfigError("simulation config not found", file=path)
    if path.is_dir():
        raise ConfigError("expected a simulation_config.json file, got a directory", file=path)
    text, data = read_json(path)
    _check_value_types(data, path)
    try:
        return libsonata.SimulationConfig(text, str(path.parent.resolve()))
    except (libsonata.SonataError, RuntimeError) as exc:
        raise ConfigError(_explain_sonata_error(str(exc)), file=path) from None


_NUMBER, _INTEGER, _STRING, _BOOL = "a number", "an integer", "a string", "true or false"
_EXPECTED_TYPES = {
    "run": {
        "tstop": _NUMBER,
        "dt": _NUMBER,
        "random_seed": _INTEGER,
        "spike_threshold": _NUMBER,
        "stimulus_seed": _INTEGER,
        "ionchannel_seed": _INTEGER,
        "minis_seed": _INTEGER,
        "synapse_seed": _INTEGER,
        "integration_method": _STRING,
    },
    "conditions": {
        "celsius": _NUMBER,
        "v_init": _NUMBER,
        "extracellular_calcium": _NUMBER,
        "randomize_gaba_rise_time": _BOOL,
        "spike_location": _STRING,
    },
    "output": {
        "output_dir": _STRING,
        "spikes_file": _STRING,
        "log_file": _STRING,
        "spikes_sort_order": _STRING,
    },
    "": {"network": _STRING, "node_set": _STRING, "node_sets_file": _STRING},
}


def _type_ok(value: Any, expected: str) -> bool:
    if expected == _NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == _INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == _STRING:
        return isinstance(value, str)
    return isinstance(value, bool)


def _check_value_types(data: Any, path: Path) -> None:
    """Name the key of a wrongly typed value (libsonata's own message does not)."""
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a JSON object", file=path)
    for section, keys in _EXPECTED_TYPES.items():
        block = data if section == "" else data.get(section, {})
        if not isinstance(block, dict):
            raise ConfigError("must be a JSON object", file=path, key=section)
        for key, expected in keys.items():
            if key in block and block[key] is not None and not _type_ok(block[key], expected):
                where = f"{section}.{key}" if section else key
                raise ConfigError(
                    f"must be {expected}, got {json.dumps(block[key])}", file=path, key=where
                )


def _explain_sonata_error(message: str) -> str:
    """libsonata's messages are terse; add what a user should check."""
    if "random_seed" in message:
        return f"{message} (run.random_seed is required by SONATA; bmtk configs often omit it)"
    if "Could not find 'run'" in message:
        return "the 'run' section (tstop, dt, random_seed) is missing"
    return message


def load_circuit_config(path: Path) -> libsonata.CircuitConfig:
    if not path.exists():
        raise ConfigError("circuit config not found", file=path, key="network")
    text, _ = read_json(path)
    try:
        return libsonata.CircuitConfig(text, str(path.parent.resolve()))
    except (libsonata.SonataError, RuntimeError) as exc:
        raise ConfigError(str(exc), file=path) from None
