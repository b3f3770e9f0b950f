"""The ion channels of our example NeuroML cell (engine.dialects.neuroml.examples.cell).

Squid-axon HH sodium/potassium/leak with q10 = 3 from 6.3 degC, channels using each of
the other gate, variable and time-course forms, and two calcium channels.
"""

from __future__ import annotations

import neuroml as nml


def _rate(kind: str, rate: str, midpoint: str, scale: str) -> nml.HHRate:
    return nml.HHRate(type=kind, rate=rate, midpoint=midpoint, scale=scale)


def _variable(kind: str, rate: float, midpoint: str, scale: str) -> nml.HHVariable:
    return nml.HHVariable(type=kind, rate=rate, midpoint=midpoint, scale=scale)


def _q10(experimental: str = "6.3 degC", factor: float = 3.0) -> nml.Q10Settings:
    return nml.Q10Settings(
        type="q10ExpTemp", q10_factor=str(factor), experimental_temp=experimental
    )


def hh_channels() -> list[nml.IonChannelHH]:
    """Hodgkin-Huxley sodium, potassium and leak, with q10 = 3 from 6.3 degC."""
    na = nml.IonChannelHH(id="na_hh", conductance="10pS", species="na")
    na.gate_hh_rates.append(
        nml.GateHHRates(
            id="m",
            instances=3,
            forward_rate=_rate("HHExpLinearRate", "1per_ms", "-40mV", "10mV"),
            reverse_rate=_rate("HHExpRate", "4per_ms", "-65mV", "-18mV"),
            q10_settings=_q10(),
        )
    )
    na.gate_hh_rates.append(
        nml.GateHHRates(
            id="h",
            instances=1,
            forward_rate=_rate("HHExpRate", "0.07per_ms", "-65mV", "-20mV"),
            reverse_rate=_rate("HHSigmoidRate", "1per_ms", "-35mV", "10mV"),
            q10_settings=_q10(),
        )
    )
    k = nml.IonChannelHH(id="k_hh", conductance="10pS", species="k")
    k.gate_hh_rates.append(
        nml.GateHHRates(
            id="n",
            instances=4,
            forward_rate=_rate("HHExpLinearRate", "0.1per_ms", "-55mV", "10mV"),
            reverse_rate=_rate("HHExpRate", "0.125per_ms", "-65mV", "-80mV"),
            q10_settings=_q10(),
        )
    )
    leak = nml.IonChannelHH(id="leak", conductance="10pS")
    return [na, k, leak]


def zoo_channels() -> list[nml.IonChannelHH]:
    """Small extra conductances, one per further gate / variable / time-course form."""
    km = nml.IonChannelHH(id="km_tauinf", conductance="10pS", species="k")
    km.gate_hh_tau_infs.append(
        nml.GateHHTauInf(
            id="p",
            instances=1,
            time_course=nml.HHTime(type="fixedTimeCourse", tau="40ms"),
            steady_state=_variable("HHSigmoidVariable", 1, "-35mV", "10mV"),
            q10_settings=nml.Q10Settings(type="q10Fixed", fixed_q10="2.0"),
        )
    )
    ka = nml.IonChannelHH(id="ka_mixed", conductance="10pS", species="k")
    ka.gate_h_hrates_taus.append(
        nml.GateHHRatesTau(
            id="a",
            instances=3,
            forward_rate=_rate("HHSigmoidRate", "0.5per_ms", "-45mV", "12mV"),
            reverse_rate=_rate("HHExpRate", "0.3per_ms", "-60mV", "-20mV"),
            time_course=nml.HHTime(type="fixedTimeCourse", tau="2ms"),
            q10_settings=_q10("22 degC", 2.3),
        )
    )
    ka.gate_h_hrates_infs.append(
        nml.GateHHRatesInf(
            id="b",
            instances=1,
            forward_rate=_rate("HHExpRate", "0.02per_ms", "-70mV", "-15mV"),
            reverse_rate=_rate("HHSigmoidRate", "0.05per_ms", "-50mV", "8mV"),
            steady_state=_variable("HHSigmoidVariable", 1, "-72mV", "-6mV"),
        )
    )
    ka.q10_conductance_scalings.append(
        nml.Q10ConductanceScaling(q10_factor="1.5", experimental_temp="16 degC")
    )
    nap = nml.IonChannelHH(id="nap_inst", conductance="10pS", species="na")
    nap.gate_hh_instantaneouses.append(
        nml.GateHHInstantaneous(
            id="mi",
            instances=1,
            steady_state=_variable("HHExpLinearVariable", 0.05, "-52mV", "5mV"),
        )
    )
    nap.gate_h_hrates_tau_infs.append(
        nml.GateHHRatesTauInf(
            id="hs",
            instances=1,
            forward_rate=_rate("HHExpRate", "0.01per_ms", "-60mV", "-10mV"),
            reverse_rate=_rate("HHExpRate", "0.01per_ms", "-60mV", "10mV"),
            time_course=nml.HHTime(type="fixedTimeCourse", tau="0.5s"),
            steady_state=_variable("HHSigmoidVariable", 1, "-58mV", "-7mV"),
        )
    )
    return [km, ka, nap]


def calcium_channels() -> list[nml.IonChannelHH]:
    """A high-voltage Ca channel (used with channelDensityNernst) and a low-voltage one
    (used with channelDensityGHK), both feeding a decaying calcium pool."""
    hva = nml.IonChannelHH(id="ca_hva", conductance="10pS", species="ca")
    hva.gate_hh_rates.append(
        nml.GateHHRates(
            id="m",
            instances=2,
            forward_rate=_rate("HHExpLinearRate", "0.5per_ms", "-27mV", "3.8mV"),
            reverse_rate=_rate("HHExpRate", "0.94per_ms", "-75mV", "-17mV"),
        )
    )
    hva.gate_hh_rates.append(
        nml.GateHHRates(
            id="h",
            instances=1,
            forward_rate=_rate("HHExpRate", "0.000457per_ms", "-13mV", "-50mV"),
            reverse_rate=_rate("HHSigmoidRate", "0.0065per_ms", "-15mV", "28mV"),
        )
    )
    lva = nml.IonChannelHH(id="ca_lva", conductance="10pS", species="ca")
    lva.gate_hh_tau_infs.append(
        nml.GateHHTauInf(
            id="s",
            instances=2,
            time_course=nml.HHTime(type="fixedTimeCourse", tau="5ms"),
            steady_state=_variable("HHSigmoidVariable", 1, "-50mV", "6mV"),
        )
    )
    return [hva, lva]
