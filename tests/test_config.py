import pytest

from napari_hacbsr.core.config import HACBSRConfig, kernel_size_for


def test_paper_defaults():
    cfg = HACBSRConfig()
    assert cfg.outer_iterations == 300 and cfg.inner_steps == 5
    assert cfg.lr_image == 5e-3 and cfg.lr_kernel == 1e-4
    assert cfg.theta_h == 0.4 and cfg.cks_weights == (0.5, 0.2, 0.3)
    assert (cfg.cks_tau, cfg.cks_sigma_min, cfg.cks_sigma_max) == (0.3, 0.3, 0.8)
    assert cfg.cks_window == 20 and cfg.history_interval == 10
    assert HACBSRConfig(mode="mlmc").outer_iterations == 200


@pytest.mark.parametrize("scale,size", [(2, 11), (3, 15), (4, 19), (5, 21), (8, 21)])
def test_kernel_size(scale, size):
    assert kernel_size_for(scale) == size
    assert HACBSRConfig(scale=scale).kernel_size == size


def test_ablation_switches():
    assert HACBSRConfig(use_cks=False).proposals == 1
    assert HACBSRConfig().proposals == 8
    assert not HACBSRConfig(use_history=False).history_enabled
    assert not HACBSRConfig(theta_h=0.0).history_enabled
    assert not HACBSRConfig(mode="mlmc").history_enabled


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"scale": 1}, "between 2 and"),
        ({"scale": 2.5}, "integer"),
        ({"scale": 9}, "between 2 and"),
        ({"mode": "fast"}, "mode must be one of"),
        ({"iterations": 0}, "iterations"),
        ({"lr_image": -1.0}, "lr_image"),
        ({"encoder": "vgg"}, "encoder"),
        ({"alpha_range": (0.9, 0.8)}, "alpha_range"),
    ],
)
def test_validation_messages(changes, match):
    with pytest.raises(ValueError, match=match):
        HACBSRConfig(**changes)


def test_dict_round_trip_and_unknown_fields():
    cfg = HACBSRConfig(scale=3, seed=7, use_cks=False, alpha_range=(0.7, 0.95))
    again = HACBSRConfig.from_dict(cfg.to_dict())
    assert again == cfg
    with pytest.raises(ValueError, match="unknown HACBSRConfig field"):
        HACBSRConfig.from_dict({"scale": 2, "learning_rate": 1})
    assert cfg.replace(seed=1).seed == 1 and cfg.seed == 7
