"""`sonatasim report-info` and `sonatasim plot ...` on the files of a real run."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.test_reports import WINDOW, ring_with_reports

REPORTS = {
    "soma_v": {"type": "compartment", "variable_name": "v", **WINDOW},
    "imem": {
        "type": "compartment",
        "variable_name": "i_membrane",
        "sections": "all",
        "compartments": "all",
        "unit": "nA",
        **WINDOW,
    },  # fmt: skip
}


@pytest.fixture(scope="module")
def output(tmp_path_factory, mechanisms_built):
    root = tmp_path_factory.mktemp("cli")
    config = ring_with_reports(root / "ring", REPORTS, n_cells=3)
    run_cli("run", config, "--output-dir", root / "out")
    return root / "out"


@pytest.mark.parametrize(
    "command", [["report-info"], ["plot"], ["plot", "raster"], ["plot", "traces"],
                ["plot", "rates"]],
)  # fmt: skip
def test_help(command):
    result = run_cli(*command, "--help")
    assert "Usage: sonatasim" in result.stdout


def test_report_info_describes_the_file(output):
    text = run_cli("report-info", output / "imem.h5").stdout
    assert "population ring" in text
    assert "3 nodes (ids 0..2)" in text
    assert "36 (12 per node)" in text
    assert "0 to 100 ms, dt 0.1 (1000 frames)" in text
    assert "units      nA" in text
    assert "libsonata  reads it" in text
    spikes = run_cli("report-info", output / "spikes.h5").stdout
    assert "spike file" in spikes and "population ring" in spikes


def test_report_info_rejects_what_is_not_a_report(tmp_path):
    (tmp_path / "x.h5").write_text("not hdf5")
    result = run_cli("report-info", tmp_path / "x.h5", check=False)
    assert result.returncode == 2 and "not a readable HDF5 file" in result.stderr
    result = run_cli("report-info", tmp_path / "none.h5", check=False)
    assert result.returncode == 2 and "file not found" in result.stderr


def test_plots_write_png_and_pdf(output, tmp_path):
    pytest.importorskip("matplotlib")
    run_cli("plot", "raster", output, "-o", tmp_path / "raster.png")
    run_cli("plot", "rates", output / "spikes.h5", "-o", tmp_path / "rates.pdf")
    run_cli("plot", "traces", output / "soma_v.h5", "--node-ids", "0,2", "-o", tmp_path / "v.pdf")
    run_cli("plot", "traces", output / "imem.h5", "--node-ids", "1", "--all-elements")
    assert (tmp_path / "raster.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "rates.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "v.pdf").read_bytes().startswith(b"%PDF")
    assert (output / "imem_traces.png").is_file()
    bad = run_cli("plot", "traces", output / "soma_v.h5", "--node-ids", "7", check=False)
    assert bad.returncode == 2 and "not in population" in bad.stderr
