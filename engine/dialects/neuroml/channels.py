"""NeuroML ion channels (libNeuroML objects) -> our channel model, refusing the rest.

Supported: ionChannelHH / ionChannel / ionChannelPassive with gates gateHHrates,
gateHHtauInf, gateHHratesTau, gateHHratesInf, gateHHratesTauInf, gateHHInstantaneous
(as their own elements or as `gate type=...`), the standard rates / variables /
fixedTimeCourse, q10Fixed / q10ExpTemp and q10ConductanceScaling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.dialects.neuroml.model import (
    GATE_KINDS,
    Q10,
    RATE_TYPES,
    TIME_TYPES,
    VARIABLE_TYPES,
    Channel,
    Form,
    Gate,
)
from engine.dialects.neuroml.refusals import refuse
from engine.dialects.neuroml.refusals import value as _value

# libNeuroML attribute of an ion channel -> the gate element it holds
_GATE_LISTS = {
    "gate_hh_rates": "gateHHrates",
    "gate_h_hrates_taus": "gateHHratesTau",
    "gate_hh_tau_infs": "gateHHtauInf",
    "gate_h_hrates_infs": "gateHHratesInf",
    "gate_h_hrates_tau_infs": "gateHHratesTauInf",
    "gate_hh_instantaneouses": "gateHHInstantaneous",
}


def _form(path: Path, gate: str, role: str, obj: Any, allowed: tuple[str, ...]) -> Form | None:
    if obj is None:
        return None
    kind = str(obj.type)
    if kind not in allowed:
        raise refuse(
            path, role, gate, f"has type '{kind}' (custom LEMS ComponentTypes are refused)"
        )
    if kind == "fixedTimeCourse":
        return Form(kind, tau=_value(path, role, gate, obj.tau, "time"))
    dimension = "per_time" if kind in RATE_TYPES else "none"
    return Form(
        kind,
        rate=_value(path, role, gate, obj.rate, dimension),
        midpoint=_value(path, role, gate, obj.midpoint, "voltage"),
        scale=_value(path, role, gate, obj.scale, "voltage"),
    )


def _q10(path: Path, gate: str, settings: Any) -> tuple[Q10, ...]:
    out = []
    if settings is not None and not isinstance(settings, list):
        settings = [settings]
    for q in settings or []:
        if q.type == "q10Fixed":
            out.append(Q10(factor=_value(path, "q10Settings", gate, q.fixed_q10, "none")))
        elif q.type == "q10ExpTemp":
            out.append(
                Q10(
                    factor=_value(path, "q10Settings", gate, q.q10_factor, "none"),
                    experimental_temp=_value(
                        path, "q10Settings", gate, q.experimental_temp, "temperature"
                    ),
                )
            )
        else:
            raise refuse(path, "q10Settings", gate, f"has type '{q.type}'")
    return tuple(out)


def _gate(path: Path, channel: str, obj: Any, kind: str) -> Gate:
    ident = f"{channel}/{obj.id}"
    if kind not in GATE_KINDS:
        raise refuse(path, kind, ident)
    if getattr(obj, "sub_gates", None):
        raise refuse(path, "gateFractional", ident)
    children = {
        "forward": _form(
            path, ident, "forwardRate", getattr(obj, "forward_rate", None), RATE_TYPES
        ),
        "reverse": _form(
            path, ident, "reverseRate", getattr(obj, "reverse_rate", None), RATE_TYPES
        ),
        "time_course": _form(
            path, ident, "timeCourse", getattr(obj, "time_course", None), TIME_TYPES + RATE_TYPES
        ),
        "steady_state": _form(
            path, ident, "steadyState", getattr(obj, "steady_state", None), VARIABLE_TYPES
        ),
    }
    missing = [name for name in GATE_KINDS[kind] if children[name] is None]
    if missing:
        raise refuse(path, kind, ident, f"lacks {', '.join(missing)}")
    if children["time_course"] is not None and children["time_course"].kind != "fixedTimeCourse":
        raise refuse(path, "timeCourse", ident, "is not a fixedTimeCourse")
    return Gate(
        id=str(obj.id),
        kind=kind,
        instances=int(obj.instances),
        q10=_q10(path, ident, getattr(obj, "q10_settings", None)),
        **children,
    )


def read_channel(path: Path, obj: Any) -> Channel:
    ident = str(obj.id)
    if obj.type not in (None, "ionChannelHH", "ionChannel", "ionChannelPassive"):
        raise refuse(path, "ionChannel", ident, f"has type '{obj.type}'")
    if obj.gate_fractionals:
        raise refuse(path, "gateFractional", f"{ident}/{obj.gate_fractionals[0].id}")
    gates = [_gate(path, ident, g, str(g.type)) for g in obj.gates]
    for attribute, kind in _GATE_LISTS.items():
        gates += [_gate(path, ident, g, kind) for g in getattr(obj, attribute)]
    scaling = []
    for s in obj.q10_conductance_scalings:
        scaling.append(
            Q10(
                factor=_value(path, "q10ConductanceScaling", ident, s.q10_factor, "none"),
                experimental_temp=_value(
                    path, "q10ConductanceScaling", ident, s.experimental_temp, "temperature"
                ),
            )
        )
    return Channel(id=ident, gates=tuple(gates), conductance_scaling=tuple(scaling))
