"""What real OBI and Allen circuits contain that tidy generated ones lack, as helpers for the
generators and the peer scenarios: paths through `manifest` variables, node sets files
with compound and `$regex` sets (issue 13)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _substitute(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, variables) for v in value]
    if not isinstance(value, str):
        return value
    plain = value[2:] if value.startswith("./") else value
    for name, prefix in variables.items():
        prefix = prefix.rstrip("/")
        if plain == prefix or plain.startswith(prefix + "/"):
            return name + plain[len(prefix) :]
    return value


def use_manifest(config_path: str | os.PathLike[str], variables: dict[str, str]) -> None:
    """Rewrite a config's paths through manifest variables, as OBI circuits write them:
    `{"$BASE_DIR": "./", "$COMPONENTS": "$BASE_DIR/components"}` turns
    `components/morphologies/ascii` into `$COMPONENTS/morphologies/ascii`.

    `variables` maps a variable to the (relative) path it stands for; the longest prefix
    wins. The manifest written defines each variable through `$BASE_DIR`.
    """
    path = Path(config_path)
    config = json.loads(path.read_text())
    ordered = dict(sorted(variables.items(), key=lambda item: -len(item[1])))
    manifest = {"$BASE_DIR": "./"}
    manifest |= {name: f"$BASE_DIR/{prefix.strip('./')}" for name, prefix in variables.items()}
    body = {k: _substitute(v, ordered) for k, v in config.items() if k != "manifest"}
    path.write_text(json.dumps({"manifest": manifest, **body}, indent=2))


def compound_node_sets(population: str, attribute: str, prefix: str) -> dict[str, Any]:
    """Node sets as OBI circuits write them: a `$regex` on a string attribute, a
    compound (list) of sets, an attribute list, and a set naming a node set inside
    another (by compound). `prefix` is the attribute values' common start."""
    return {
        "RegexAll": {"population": population, attribute: {"$regex": f"^{prefix}.*"}},
        "RegexPC": {"population": population, attribute: {"$regex": ".*_PC$"}},
        "RegexBC": {"population": population, attribute: {"$regex": ".*_BC$"}},
        "PCandBC": ["RegexPC", "RegexBC"],
        "Compound": ["PCandBC", "RegexAll"],
    }
