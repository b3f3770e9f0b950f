"""Our own BBP-style hoc emodel template for the tests (no tests here).

`template_text`: the template reads its morphology with NEURON's Import3d, writes the
section index into v(0.0001) (`nSecAll`), replaces the axon by two 30 um sections and
takes extra constructor arguments; `load_test_template` loads one through the engine's
template loader. Used by tests/test_bbp_support.py's circuits, the Import3d cache tests
and benchmarks, and the neurodamus peer harness.
"""

from __future__ import annotations

from pathlib import Path


def load_test_template(h, name: str, folder: Path | None = None, **kind: bool) -> Path:
    """Write template `name` (`kind`: needed, indexed; plain by default) into `folder` (a
    new temporary one by default) and load it through the engine's template loader, as a
    circuit's cells would be (the Import3d cache is installed there when enabled)."""
    import tempfile

    from engine.config import NodePopulationInfo
    from engine.managers.cells import templates

    folder = folder or Path(tempfile.mkdtemp())
    options = {"needed": False, "indexed": True} | kind
    (folder / f"{name}.hoc").write_text(template_text(name, **options))
    info = NodePopulationInfo(
        name="cortex", type="biophysical", nodes_file=folder / "unused.h5",
        biophysical_neuron_models_dir=folder,
    )  # fmt: skip
    templates.load_template(h, info, name)
    return folder


def template_text(name: str, *, needed: bool, indexed: bool) -> str:
    """hoc source of one BBP-style test template (see the module docstring)."""
    needed_global = (
        f'strdef {name}_NeededAttributes\n{name}_NeededAttributes = "AIS_scaler;soma_scaler"\n'
        if needed
        else ""
    )
    scalers = "ais_scaler = $4\n    soma_scaler = $5" if needed else "ais_scaler = 1 + $4"
    index_call = "index_sections()" if indexed else "count_sections()"
    return f"""// {name}: BBP-style emodel template written for sonatasim's tests.
{{load_file("import3d.hoc")}}
{needed_global}
begintemplate {name}
public init, soma, axon, dend, apic, all, somatic, axonal, basal, apical
public gid, nSecAll, nSecSoma, nSecAxonalOrig, nSecBasal, nSecApical
public ais_scaler, soma_scaler
create soma[1], axon[1], dend[1], apic[1]
objref all, somatic, axonal, basal, apical, this

proc init() {{
    gid = $1
    soma_scaler = 1
    {scalers}
    all = new SectionList()
    somatic = new SectionList()
    axonal = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    load_morphology($s2, $s3)
    forsec all {{ nseg = 1 + 2*int(L/40) }}
    {index_call}
    replace_axon()
    forsec all {{ insert pas  g_pas = 3e-5  e_pas = -65  cm = 1  Ra = 100 }}
    forsec somatic {{ g_pas = 3e-5 * soma_scaler }}
    forsec somatic {{ insert hh }}
    forsec axonal {{ insert hh }}
}}

proc load_morphology() {{ localobj reader, gui, strings
    strdef path
    sprint(path, "%s/%s", $s1, $s2)
    strings = new StringFunctions()
    if (strings.substr($s2, ".asc") >= 0 || strings.substr($s2, ".ASC") >= 0) {{
        reader = new Import3d_Neurolucida3()
    }} else {{
        reader = new Import3d_SWC_read()
    }}
    reader.quiet = 1
    reader.input(path)
    gui = new Import3d_GUI(reader, 0)
    gui.instantiate(this)
}}

proc count_sections() {{
    nSecSoma = 0
    forsec somatic {{ nSecSoma += 1 }}
    nSecBasal = 0
    forsec basal {{ nSecBasal += 1 }}
    nSecApical = 0
    forsec apical {{ nSecApical += 1 }}
}}

// the section's position in `all` goes into v(0.0001), before the axon is replaced
proc index_sections() {{ local i
    i = 0
    forsec all {{
        v(0.0001) = i
        i += 1
    }}
    nSecAll = i
    count_sections()
}}

proc replace_axon() {{ local n, d
    n = 0
    d = 1
    forsec axonal {{
        if (n == 0) {{ d = diam(0.5) }}
        n += 1
    }}
    nSecAxonalOrig = n
    forsec axonal {{ delete_section() }}
    execute1("create axon[2]", this)
    axonal = new SectionList()
    for i = 0, 1 {{
        axon[i] {{
            L = 30
            diam = d * ais_scaler
            nseg = 1
            all.append()
            axonal.append()
        }}
    }}
    connect axon[0](0), soma[0](1)
    connect axon[1](0), axon[0](1)
}}
endtemplate {name}
"""
