"""Input (stimulus) families, one module each, registered by name.

Every input module libsonata 0.2.2 parses, except synapse_replay (engine.managers.replay):

* current_waveforms: linear, relative_linear, pulse, sinusoidal, subthreshold, hyperpolarizing
* seclamp: seclamp (with duration_levels / voltage_levels)
* noise: noise
* shot_noise: shot_noise, relative_shot_noise, absolute_shot_noise
* ornstein_uhlenbeck: ornstein_uhlenbeck, relative_ornstein_uhlenbeck
* current_replay: replay (current traces from a file)
* poisson: poisson (Poisson trains onto the synapses of the node set's nodes)
* efield: spatially_uniform_e_field

Shared pieces: base (context, checks, targets, per-cell values), sources (waveforms and
electrodes), random_streams (Random123 keys), registry.
May import engine.errors and engine.managers.cells.points (target points); not the other managers.
"""
