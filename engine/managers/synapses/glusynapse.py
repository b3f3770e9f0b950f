"""`modoverride: GluSynapse`: the plastic glutamatergic synapse of OBI circuits.

neurodamus builds it through its GluSynapseHelper; the same mapping of edge attributes onto
GluSynapse's parameters, written from that helper's documented behaviour:

* needed edge attributes: volume_CR, rho0_GB, Use_d_TM, Use_p_TM, gmax_d_AMPA,
  gmax_p_AMPA, theta_d, theta_p (a clear error names the missing ones);
* Use_d = Use_d_TM, Use_p = Use_p_TM (both scaled for extracellular calcium like u_syn,
  when the edges have u_hill_coefficient); theta_d_GB = theta_d, theta_p_GB = theta_p;
  rho0_GB, volume_CR, gmax_d_AMPA, gmax_p_AMPA as they are;
* potentiated (rho0_GB > the mechanism's global rho_star_GB) or depressed start:
  gmax0_AMPA = gmax_p_AMPA or gmax_d_AMPA, Use = Use_p or Use_d;
* gmax_NMDA = gmax0_AMPA x conductance_scale_factor (when the edges have it);
* tau_d_AMPA = decay_time, Dep = |depression_time|, Fac = |facilitation_time|, Nrrp when
  n_rrp_vesicles >= 0; synapseID and setRNG(gid + 1, 100000 + synapse id,
  synapse_seed + 200) as for every modoverride model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.managers.synapses.base import scale_use_by_calcium

MECHANISM = "GluSynapse"
NEEDED = (
    "volume_CR",
    "rho0_GB",
    "Use_d_TM",
    "Use_p_TM",
    "gmax_d_AMPA",
    "gmax_p_AMPA",
    "theta_d",
    "theta_p",
)
RENAMED = {"Use_d_TM": "Use_d", "Use_p_TM": "Use_p", "theta_d": "theta_d_GB"}
RENAMED |= {"theta_p": "theta_p_GB"}


def glusynapse_parameters(ctx: Any, h: Any, label: str, key: str) -> dict[str, np.ndarray]:
    """GluSynapse's parameters for the local edges of `ctx` (see the module docstring)."""
    missing = [name for name in NEEDED if not ctx.has(name)]
    if missing:
        raise ConfigError(
            f"{label}: modoverride GluSynapse needs the edge attributes {', '.join(missing)}",
            key=key,
            file=ctx.settings.config_path,
        )
    values = {name: ctx.read(name).astype(np.float64) for name in NEEDED}
    calcium = getattr(ctx.settings.conditions, "extracellular_calcium", None)
    if calcium is not None and ctx.has("u_hill_coefficient"):
        hill = ctx.read("u_hill_coefficient")
        for name in ("Use_d_TM", "Use_p_TM"):
            values[name] = scale_use_by_calcium(values[name], hill, calcium)
    params = {RENAMED.get(name, name): array for name, array in values.items()}
    potentiated = params["rho0_GB"] > float(h.rho_star_GB_GluSynapse)
    params["gmax0_AMPA"] = np.where(potentiated, params["gmax_p_AMPA"], params["gmax_d_AMPA"])
    if ctx.has("conductance_scale_factor"):
        ratio = ctx.read("conductance_scale_factor").astype(np.float64)
        params["gmax_NMDA"] = params["gmax0_AMPA"] * ratio
    params["tau_d_AMPA"] = ctx.read("decay_time").astype(np.float64)
    params["Use"] = np.where(potentiated, params["Use_p"], params["Use_d"])
    params["Dep"] = np.abs(ctx.read("depression_time").astype(np.float64))
    params["Fac"] = np.abs(ctx.read("facilitation_time").astype(np.float64))
    if ctx.has("n_rrp_vesicles"):
        nrrp = ctx.read("n_rrp_vesicles").astype(np.float64)
        params["Nrrp"] = np.where(nrrp >= 0, nrrp, np.nan)  # NaN: keep the mod default
    return params
