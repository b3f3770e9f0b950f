"""Morphology files found by name and read (engine.io.morphology), before NEURON builds
anything: extensions among dots, lookup in format directories, morphio's warnings.

Sections built from the files: tests/test_morphology.py. Real files (other than `gen:`
names) skip without ../shared and fail under CI=true (tests/conftest.py).
"""

from __future__ import annotations

import logging

import pytest

from engine.errors import CircuitError
from engine.generate.morphologies import synthetic_cell, write_cell
from engine.io.morphology import (
    morphology_file_name,
    read_morphology,
    resolve_morphology_path,
    split_morphology_name,
    template_file_name,
)
from tests.conftest import GENERATED_CELLS

DOTTED = "dend-C060114A7_axon-C060110A3_-_Scale_x1.000_y0.950_z1.000_-_Clone_1"


def test_only_known_extensions_are_extensions():
    assert split_morphology_name(DOTTED) == (DOTTED, None)
    assert split_morphology_name(f"{DOTTED}.ASC") == (DOTTED, "ASC")
    assert split_morphology_name("cell.v2.h5") == ("cell.v2", "h5")
    assert split_morphology_name(".swc") == (".swc", None)
    assert morphology_file_name(DOTTED, "asc") == f"{DOTTED}.asc"
    assert morphology_file_name("Scnn1a_473845048_m.swc", "swc") == "Scnn1a_473845048_m.swc"
    assert morphology_file_name("cell.Swc", "h5") == "cell.Swc"  # bmtk: the name is the file
    assert morphology_file_name("cell_x1.000", "h5") == "cell_x1.000.h5"


def test_resolve_morphology_path(tmp_path):
    cell = synthetic_cell(**GENERATED_CELLS["small"])
    long_name = DOTTED + "_-_Clone_2" * 12  # ~190 characters
    for file_name in (f"{DOTTED}.swc", f"{DOTTED}.asc", f"{long_name}.h5", "upper.ASC"):
        write_cell(cell, tmp_path / file_name)
    assert resolve_morphology_path(tmp_path, DOTTED, "swc") == tmp_path / f"{DOTTED}.swc"
    assert resolve_morphology_path(tmp_path, DOTTED, "asc") == tmp_path / f"{DOTTED}.asc"
    assert resolve_morphology_path(tmp_path, f"{DOTTED}.swc", None) == tmp_path / f"{DOTTED}.swc"
    assert resolve_morphology_path(tmp_path, long_name, None) == tmp_path / f"{long_name}.h5"
    # the directory's kind gives the extension; on disk it may be spelled upper-case
    assert resolve_morphology_path(tmp_path, "upper", "asc") == tmp_path / "upper.ASC"
    assert resolve_morphology_path(tmp_path, "upper.asc", None) == tmp_path / "upper.ASC"
    assert template_file_name(tmp_path, "upper", "asc") == "upper.ASC"
    assert template_file_name(tmp_path, DOTTED, "asc") == f"{DOTTED}.asc"
    with pytest.raises(CircuitError, match="not found") as err:
        resolve_morphology_path(tmp_path, "no_such_cell", "swc")
    assert "no_such_cell.swc" in str(err.value)
    with pytest.raises(CircuitError, match="not found") as err:  # no h5 of this one
        resolve_morphology_path(tmp_path, DOTTED, "h5")
    assert f"{DOTTED}.h5" in str(err.value)
    with pytest.raises(CircuitError, match="directory not found"):
        resolve_morphology_path(tmp_path / "nowhere", "cell", "swc")


@pytest.mark.parametrize("name", ["gen:pyramidal.swc", "C210401C.swc"])
def test_morphio_warnings_stay_off_the_terminal(capfd, caplog, path_of, name):
    path = path_of(name)  # both have zero-diameter points (the generated one its outline)
    with caplog.at_level(logging.DEBUG, logger="engine.io.morphology"):
        read_morphology(path)
    out, err = capfd.readouterr()
    assert "zero diameter" not in (out + err).lower()
    lines = [r.getMessage() for r in caplog.records if path.name in r.getMessage()]
    assert len(lines) == 1 and "ZeroDiameter" in lines[0]
