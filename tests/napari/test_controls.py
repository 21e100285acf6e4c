"""The Advanced section's preset: choosing one fills the options and the run starts from its config."""

from __future__ import annotations

import numpy as np

from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.napari.controls import PRESET_NAMES, AdvancedOptions, describe_preset
from napari_hacbsr.napari.widget import HACBSRWidget


def test_choosing_a_preset_fills_the_options_and_default_restores_them(qapp):
    options = AdvancedOptions()
    assert list(options.preset.choices) == list(PRESET_NAMES) and options.preset.value == "default"
    assert options.preset_hint.value == "the defaults"
    options.mode.value, options.use_cks.value = "mlmc", False
    options.theta_h.value, options.kernel_warmup.value = 1.5, 7
    options.preset.value = "noise-free"  # a preset's own config, not the hand edits, fills the fields
    defaults = HACBSRConfig()
    assert (options.mode.value, options.use_cks.value, options.theta_h.value, options.kernel_warmup.value) == (
        defaults.mode,
        defaults.use_cks,
        defaults.theta_h,
        defaults.kernel_warmup,
    )
    assert "ssim_share=1" in options.preset_hint.value
    options.theta_h.value = 0.9
    options.preset.value = "default"
    assert options.theta_h.value == defaults.theta_h and options.preset_hint.value == "the defaults"


def test_describe_preset_lists_what_it_changes():
    assert describe_preset("default") == "the defaults"
    assert "sampling=stride" in describe_preset("paper")


def test_the_run_config_starts_from_the_preset_and_keeps_later_edits(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    viewer.add_image(np.random.default_rng(0).random((20, 20)).astype(np.float32), name="a")
    widget = HACBSRWidget(viewer)
    before = widget.make_config()
    widget.preset.value = "paper"
    assert widget.make_config().sampling == "stride"  # (no control shows it: it comes with the preset)
    widget.preset.value = "noise-free"
    widget.seed.value, widget.theta_h.value = 3, 0.7
    config = widget.make_config()
    assert (config.ssim_share, config.seed, config.theta_h) == (1.0, 3, 0.7)
    widget.seed.value = before.seed
    widget.preset.value = "default"
    assert widget.make_config() == before
