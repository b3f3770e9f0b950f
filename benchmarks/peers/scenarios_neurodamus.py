"""neurodamus peer scenarios (compare_neurodamus.py): what each one adds to the BBP-style
circuit that circuit_neurodamus.py writes for both tools.
"""

from __future__ import annotations

from circuit_neurodamus import Scenario

INPUTS_EXTRA = {
    "rel_shot": {
        "module": "relative_shot_noise", "input_type": "current_clamp", "delay": 30.0,
        "duration": 200.0, "node_set": "Even", "rise_time": 0.5, "decay_time": 5.0,
        "mean_percent": 20.0, "sd_percent": 10.0, "relative_skew": 0.6, "dt": 0.25,
    },
    "abs_shot": {
        "module": "absolute_shot_noise", "input_type": "current_clamp", "delay": 5.0,
        "duration": 250.0, "node_set": "Odd", "rise_time": 0.5, "decay_time": 5.0,
        "mean": 0.02, "sigma": 0.01, "dt": 0.25,
    },
    "ou": {
        "module": "ornstein_uhlenbeck", "input_type": "current_clamp", "delay": 0.0,
        "duration": 280.0, "node_set": "Cortex", "tau": 3.0, "mean": 0.01, "sigma": 0.01,
        "dt": 0.25,
    },
    "rel_ou_g": {
        "module": "relative_ornstein_uhlenbeck", "input_type": "conductance", "delay": 40.0,
        "duration": 150.0, "node_set": "Even", "tau": 2.0, "mean_percent": 1.0,
        "sd_percent": 0.5, "reversal": 0.0, "dt": 0.25,
    },
    "rel_noise": {
        "module": "noise", "input_type": "current_clamp", "delay": 0.0, "duration": 290.0,
        "node_set": "Odd", "mean_percent": 10.0, "variance": 0.5,
    },
    "pulse": {
        "module": "pulse", "input_type": "current_clamp", "delay": 50.0, "duration": 103.0,
        "node_set": "Even", "amp_start": 0.05, "width": 3.0, "frequency": 40.0,
    },
    "sine": {
        "module": "sinusoidal", "input_type": "current_clamp", "delay": 60.0, "duration": 100.0,
        "node_set": "Odd", "amp_start": 0.03, "frequency": 15.0, "dt": 0.025,
    },
    "ramp": {
        "module": "linear", "input_type": "current_clamp", "delay": 100.0, "duration": 80.0,
        "node_set": "Cortex", "amp_start": 0.0, "amp_end": 0.04,
    },
    "rel_ramp": {
        "module": "relative_linear", "input_type": "current_clamp", "delay": 200.0,
        "duration": 50.0, "node_set": "Even", "percent_start": 10.0, "percent_end": 30.0,
    },
    "sub": {
        "module": "subthreshold", "input_type": "current_clamp", "delay": 150.0,
        "duration": 40.0, "node_set": "Odd", "percent_less": 80.0,
    },
    "pulse_electrode": {
        "module": "pulse", "input_type": "current_clamp", "delay": 20.0, "duration": 60.0,
        "node_set": "Odd", "amp_start": 0.04, "width": 2.0, "frequency": 50.0,
        "represents_physical_electrode": True,
    },
    "clamp": {
        "module": "seclamp", "input_type": "voltage_clamp", "delay": 0.0, "duration": 20.0,
        "node_set": "Single", "voltage": -60.0, "series_resistance": 0.05,
    },
    "hyper": {
        "module": "hyperpolarizing", "input_type": "current_clamp", "delay": 0.0,
        "duration": 300.0, "node_set": "Cortex",
    },
}  # fmt: skip


OVERRIDES = [
    {"name": "vpm_all", "source": "Thalamus", "target": "Cortex", "weight": 1.3},
    {"name": "vpm_even", "source": "Thalamus", "target": "Even", "weight": 1.1,
     "synapse_delay_override": 1.0, "synapse_configure": "%s.tau_d_AMPA = 2.2"},
    {"name": "rec", "source": "Cortex", "target": "Cortex", "spont_minis": 3.0},
]  # fmt: skip


SCENARIOS = {
    s.name: s
    for s in [
        Scenario(
            "deterministic",
            "u_syn 1, Fac 0, Dep 1 us, Nrrp 1: every release certain; replay + recurrent "
            "synapses, soma spike detection, no Ca scaling, no minis, no noise",
            deterministic=True,
        ),
        Scenario(
            "stochastic",
            "random TM parameters and Nrrp, conductance_scale_factor, extracellular_calcium, "
            "randomize_gaba_rise_time, synapse_seed, AIS detection, a removed-axon section id",
            run={"synapse_seed": 7},
            conditions={
                "spike_location": "AIS",
                "extracellular_calcium": 1.6,
                "randomize_gaba_rise_time": True,
            },
        ),
        Scenario(
            "minis",
            "stochastic + exc/inh_mini_frequency node attributes (minis_seed 5)",
            run={"synapse_seed": 7, "minis_seed": 5},
            conditions={"extracellular_calcium": 1.6, "randomize_gaba_rise_time": True},
            minis=True,
        ),
        Scenario(
            "noise",
            "stochastic + a `noise` and a `shot_noise` input (stimulus_seed 9)",
            run={"synapse_seed": 7, "stimulus_seed": 9},
            conditions={"extracellular_calcium": 1.6},
            noise=True,
        ),
        Scenario(
            "inputs",
            "stochastic + every other input family: relative/absolute shot noise, OU "
            "(current, and relative in conductance mode, reversal 0), relative noise from "
            "t=0, pulse (also as a physical electrode), sinusoidal, linear, relative_linear, "
            "subthreshold, hyperpolarizing, seclamp (libsonata refuses a seclamp delay)",
            run={"synapse_seed": 7, "stimulus_seed": 4},
            conditions={"extracellular_calcium": 1.6},
            noise=True,
            extra_inputs=INPUTS_EXTRA,
        ),
        Scenario(
            "overrides",
            "virtual population 'VPM' (sorts before 'cortex': cortex offset 1000), simulated "
            "node set First8 (subset), connection_overrides (weight, spont_minis, "
            "synapse_delay_override, synapse_configure), conditions.mechanisms "
            "(init_depleted, minis_single_vesicle), minis, replay delay 20 ms",
            run={"synapse_seed": 7, "minis_seed": 5},
            conditions={
                "extracellular_calcium": 1.6,
                "randomize_gaba_rise_time": True,
                "mechanisms": {
                    "ProbAMPANMDA_EMS": {"minis_single_vesicle": True},
                    "ProbGABAAB_EMS": {"init_depleted": True, "minis_single_vesicle": True},
                },
            },
            minis=True,
            fibre_pop="VPM",
            fibre_rate=60.0,
            replay_delay=20.0,
            node_set="First8",
            extra_config={"connection_overrides": OVERRIDES},
        ),
        Scenario(
            "numerics",
            "integration_method crank_nicolson_ion, dt 0.0125 (other delay truncation), "
            "spike_threshold -20, v_init -70, celsius 8, ionchannel_seed, minis",
            tstop=200.0,
            dt=0.0125,
            run={
                "synapse_seed": 7,
                "minis_seed": 5,
                "integration_method": "crank_nicolson_ion",
                "spike_threshold": -20.0,
                "ionchannel_seed": 3,
            },
            conditions={"celsius": 8.0, "v_init": -70.0, "extracellular_calcium": 1.6},
            minis=True,
        ),  # fmt: skip
        Scenario(
            "cond_reversal",
            "known, intended deviation: conductance-mode OU with reversal +20 mV (neurodamus "
            "keeps g = reversal value outside the window, sonatasim 0 uS)",
            expected_to_differ=True,
            run={"synapse_seed": 7, "stimulus_seed": 4},
            extra_inputs={
                "ou_g": {
                    "module": "ornstein_uhlenbeck",
                    "input_type": "conductance",
                    "delay": 50.0,
                    "duration": 100.0,
                    "node_set": "Even",
                    "tau": 2.0,
                    "mean": 0.001,
                    "sigma": 0.0005,
                    "reversal": 20.0,
                    "dt": 0.25,
                }
            },  # fmt: skip
        ),
        Scenario(
            "obi_layout",
            "stochastic, laid out as OBI circuits are: generated morphologies with dotted "
            "names without extension (one 180 characters long, clones sharing one), swc + "
            "h5v1 + neurolucida-asc directories, circuit paths through manifest variables, "
            "simulated node set a compound of $regex sets",
            run={"synapse_seed": 7},
            conditions={"extracellular_calcium": 1.6, "randomize_gaba_rise_time": True},
            node_set="Compound",
            obi_layout=True,
        ),
        Scenario(
            "mpi2",
            "minis + noise, neurodamus on 2 ranks, sonatasim on 2 ranks",
            run={"synapse_seed": 7, "minis_seed": 5, "stimulus_seed": 9},
            conditions={"extracellular_calcium": 1.6, "randomize_gaba_rise_time": True},
            minis=True,
            noise=True,
            nd_ranks=2,
            ss_ranks=2,
        ),
    ]
}
