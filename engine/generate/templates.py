"""Cell files for generated circuits: a ball-and-stick SWC morphology and our hoc template.

The template follows sonatasim's calling convention: `new <name>(gid, morph_dir, morph_file)`
(the arguments neurodamus passes), with the sections built by the engine's morphio loader
through the global hoc objref `sonatasim_morphology`, so the template holds no geometry.
"""

from __future__ import annotations

import os

import numpy as np

from engine.io.atomic import atomic_path

PathLike = str | os.PathLike[str]

# Passive membrane everywhere; Hodgkin-Huxley (squid, 6.3 degC) densities in soma and axon.
PASSIVE = {"g_pas": 3e-5, "e_pas": -65.0, "cm": 1.0, "Ra": 100.0}
HH = {"gnabar_hh": 0.12, "gkbar_hh": 0.036, "gl_hh": 0.0003, "el_hh": -54.3}
# HH kinetics fail at mammalian temperatures; simulation configs of generated circuits set it.
HH_CELSIUS = 6.3

SWC_SOMA, SWC_AXON, SWC_DEND = 1, 2, 3


def write_ball_and_stick_swc(
    path: PathLike,
    soma_radius: float = 10.0,
    dend_length: float = 200.0,
    dend_diam: float = 1.0,
    n_dend_points: int = 11,
    axon_length: float = 0.0,
    axon_diam: float = 1.0,
) -> None:
    """Write a soma (NeuroMorpho three-point cylinder) with one dendrite and optional axon.

    The dendrite, along +x, is the first neurite, so it is section 1 in file order; the
    axon, along -x, follows it.
    """
    r = float(soma_radius)
    rows = [
        (1, SWC_SOMA, 0.0, 0.0, 0.0, r, -1),
        (2, SWC_SOMA, 0.0, -r, 0.0, r, 1),
        (3, SWC_SOMA, 0.0, r, 0.0, r, 1),
    ]
    n = max(int(n_dend_points), 2)
    for i, x in enumerate(np.linspace(r, r + dend_length, n)):
        sample = len(rows) + 1
        rows.append(
            (sample, SWC_DEND, float(x), 0.0, 0.0, dend_diam / 2, 1 if i == 0 else sample - 1)
        )
    if axon_length > 0:
        n_axon = max(2, 1 + int(np.ceil(axon_length / 20.0)))
        for i, x in enumerate(np.linspace(-r, -r - axon_length, n_axon)):
            sample = len(rows) + 1
            rows.append(
                (sample, SWC_AXON, float(x), 0.0, 0.0, axon_diam / 2, 1 if i == 0 else sample - 1)
            )
    lines = ["# ball-and-stick neuron written by sonatasim (engine.generate.templates)"]
    lines += [f"{i} {t} {x:.4f} {y:.4f} {z:.4f} {rad:.4f} {p}" for i, t, x, y, z, rad, p in rows]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def template_text(name: str, *, passive_only: bool = False) -> str:
    """The hoc source of our template `name` (see the module docstring for the convention)."""
    passive = "\n".join(f"        {k} = {v:g}" for k, v in PASSIVE.items())
    active = "\n".join(f"        {k} = {v:g}" for k, v in HH.items())
    hh_block = (
        ""
        if passive_only
        else f"""
    // Hodgkin-Huxley spikes in soma and axon (kinetics meant for celsius = {HH_CELSIUS}).
    forsec somatic {{
        insert hh
{active}
    }}
    forsec axonal {{
        insert hh
{active}
    }}"""
    )
    return f"""// {name}: ball-and-stick cell template written by sonatasim's circuit generator.
// new {name}(gid, morphology_dir, morphology_file): the engine's morphio loader, installed
// as the global objref sonatasim_morphology, creates the sections and fills the lists.
begintemplate {name}
public init, soma, dend, apic, axon, all, somatic, basal, apical, axonal, gid, biophys
public geom_nseg
external sonatasim_morphology
create soma[1], dend[1], apic[1], axon[1]
objref all, somatic, basal, apical, axonal, this

proc init() {{
    gid = $1
    all = new SectionList()
    somatic = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    axonal = new SectionList()
    sonatasim_morphology.load(this, $s2, $s3)
    geom_nseg()
    biophys()
}}

// About one segment per 40 um, always odd so the section's middle is a node.
proc geom_nseg() {{
    forsec all {{ nseg = 1 + 2*int(L/40) }}
}}

proc biophys() {{
    forsec all {{
        insert pas
{passive}
    }}{hh_block}
}}
endtemplate {name}
"""


def write_template(path: PathLike, name: str, *, passive_only: bool = False) -> None:
    """Write our hoc template `name` to `path` (conventionally `<dir>/<name>.hoc`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(template_text(name, passive_only=passive_only))
