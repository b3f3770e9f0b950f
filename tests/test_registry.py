"""The input registry: every SONATA input module is there, and a new one needs only a class."""

from __future__ import annotations

from types import SimpleNamespace

from engine.dialects.allen import inputs as allen_inputs
from engine.stimuli import registry
from engine.stimuli.base import Stimulus

# The 17 input modules of the SONATA simulation config (libsonata 0.2.2, keys doc).
SONATA_INPUTS = {
    "linear", "relative_linear", "pulse", "sinusoidal", "subthreshold", "hyperpolarizing",
    "synapse_replay", "seclamp", "noise", "shot_noise", "relative_shot_noise",
    "absolute_shot_noise", "ornstein_uhlenbeck", "relative_ornstein_uhlenbeck",
    "spatially_uniform_e_field", "poisson", "replay",
}  # fmt: skip


def test_every_sonata_input_module_is_supported():
    assert set(registry.supported()) == SONATA_INPUTS
    for module in SONATA_INPUTS - {"synapse_replay"}:  # the ReplayManager's
        assert issubclass(registry.lookup(module), Stimulus), module


def test_a_registered_class_is_all_a_new_input_needs(tmp_path):
    @registry.register("sonatasim_test_module")
    class TestInput(Stimulus):
        pass

    try:
        assert registry.lookup("sonatasim_test_module") is TestInput
        assert "sonatasim_test_module" in registry.supported()
        # the Allen-dialect translator passes SONATA modules through from the same registry
        block = {"module": "sonatasim_test_module", "input_type": "current_clamp"}
        translation = SimpleNamespace(source=tmp_path / "config.json")
        out = allen_inputs.translate_inputs({"x": block}, translation, {}, tmp_path, 100.0, [])
        assert out == {"x": block}
    finally:
        registry._REGISTRY.pop("sonatasim_test_module")
