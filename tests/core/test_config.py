import dataclasses
import json

import pytest

from napari_hacbsr.core.choices import MODE_SCHEDULES
from napari_hacbsr.core.config import HACBSRConfig, kernel_size_for
from napari_hacbsr.core.kernel_model import KERNEL_MODELS
from napari_hacbsr.core.plan import resolve
from napari_hacbsr.core.presets import PRESET_NAMES, preset


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
        ({"scale": 1}, "at least 2, got 1: ×1 does not add any pixels"),
        ({"scale": 2.5}, "integer"),
        ({"scale": 9}, "at most 8, got 9: the blur-kernel model"),
        ({"mode": "fast"}, "mode must be one of"),
        ({"iterations": 0}, "iterations"),
        ({"lr_image": -1.0}, "lr_image"),
        ({"encoder": "vgg"}, "encoder"),
        ({"alpha_range": (0.9, 0.8)}, "alpha_range"),
        ({"noise_gate": "yes"}, "noise_gate must be True, False or None"),
        ({"kernel_model": "own"}, "kernel_model must be one of"),
        ({"lr_image": float("inf")}, "lr_image must be a finite number"),
        ({"ssim_share": 1.5}, "ssim_share"),
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


def test_one_schedule_policy_per_device():
    base = HACBSRConfig()
    assert base.iterations is None and base.yield_every is None and base.ssim_share is None
    gpu, cpu = resolve(base, "cuda:0"), resolve(base, "cpu")
    assert (gpu.iterations, gpu.yield_every, gpu.ssim_iterations) == (300, 10, 81)  # the paper's 81 of 300
    assert resolve(preset("noise-free"), "cuda").ssim_iterations == 300  # 1-SSIM throughout
    mlmc = resolve(base.replace(mode="mlmc"), "mps")
    assert (mlmc.iterations, mlmc.ssim_iterations) == (200, 81)  # the MLMC code's `it <= 80`
    assert (cpu.iterations, cpu.yield_every) == (100, 1) and cpu.ssim_iterations == 27
    # what the user set is kept on every device
    mine = resolve(HACBSRConfig(iterations=30, yield_every=5, ssim_share=0.1), "cuda")
    assert (mine.iterations, mine.yield_every, mine.ssim_iterations) == (30, 5, 3)
    assert resolve(HACBSRConfig(iterations=30), "cpu").ssim_iterations == 8
    assert resolve(HACBSRConfig(iterations=30, ssim_share=1.0), "cpu").ssim_iterations == 30
    assert resolve(HACBSRConfig(mode="mlmc", iterations=30), "cpu").ssim_iterations == 12


def test_the_kernel_model_is_one_named_entry_with_one_default_rule():
    for scale in (2, 3, 4, 6):
        plan = resolve(HACBSRConfig(scale=scale), "cpu")
        assert plan.kernel_model == ("mlmc" if scale == 2 else "hacbsr"), scale
        assert plan.kernel == KERNEL_MODELS[plan.kernel_model].with_rates(1e-4)
        # ... the model only: HACBSR's image side and loss schedule at every scale
        assert (plan.mode, plan.use_cks, plan.use_history, plan.ssim_iterations) == ("hacbsr", True, True, 27)
        assert resolve(HACBSRConfig(scale=scale, mode="mlmc"), "cpu").kernel_model == "mlmc"
    own = resolve(HACBSRConfig(scale=4), "cpu").kernel
    assert (own.prior, own.prior_optimizer, own.warmup_batch, own.cks_calibrate) == ("data", "own", 8, True)
    assert (own.warmup_lr, own.prior_lr) == (1e-3, 3e-4)
    x2 = resolve(HACBSRConfig(scale=2, lr_kernel=2e-4), "cpu").kernel
    assert (x2.prior, x2.prior_optimizer, x2.kl_weighting, x2.kernel_loss) == (
        "mlmc",
        "shared",
        "fit",
        "scaled-mse-after-share",
    )
    assert x2.warmup_lr == x2.prior_lr == 2e-4  # MLMC's warm-up runs at the kernel rate
    # pinned by name at any scale; MLMC mode runs the MLMC loop's data loss whatever the model
    assert resolve(HACBSRConfig(scale=4, kernel_model="mlmc"), "cpu").kernel.prior == "mlmc"
    assert resolve(HACBSRConfig(scale=2, kernel_model="hacbsr"), "cpu").kernel.prior == "data"
    assert resolve(HACBSRConfig(scale=2, mode="mlmc"), "cpu").kernel.kernel_loss == "data"
    # the scale is read when the plan is made, so a replaced scale takes its own model
    assert resolve(HACBSRConfig(scale=4).replace(scale=2), "cpu").kernel_model == "mlmc"


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("mode", ["hacbsr", "mlmc"])
def test_a_field_set_to_its_resolved_value_changes_nothing(scale, mode):
    """The trap of the old "set by hand" rule: setting a default explicitly must not change the run."""
    base = HACBSRConfig(scale=scale, mode=mode, lr_noise=0.004)
    plan = resolve(base, "cpu")
    explicit = base.replace(
        iterations=plan.iterations,
        yield_every=plan.yield_every,
        kernel_model=plan.kernel_model,
        ssim_share=MODE_SCHEDULES[mode]["ssim_share"],
        noise_gate=plan.noise_gate,
        history_in_mse=plan.history_in_mse,
    )
    assert dataclasses.replace(resolve(explicit, "cpu"), config=base) == plan


def test_presets_are_named_configs():
    assert set(PRESET_NAMES) == {"default", "noise-free", "paper"}
    assert preset("default") == HACBSRConfig()
    paper = resolve(preset("paper", scale=4), "cuda")
    assert (paper.sampling, paper.kernel_model, paper.noise_gate, paper.ssim_iterations) == (
        "stride",
        "paper",
        False,
        81,
    )
    assert paper.history_in_mse is True and paper.kernel.kl_weighting == "uniform"
    assert preset("noise-free", seed=3).seed == 3  # changes on top
    with pytest.raises(ValueError, match="preset must be one of"):
        preset("fast")


def test_the_gpu_test_is_defined_once():
    from napari_hacbsr.core.choices import is_accelerator

    assert is_accelerator("cuda:1") and is_accelerator("mps") and not is_accelerator("cpu")


def test_a_plan_reads_the_configs_plain_fields_and_records_what_it_resolved():
    plan = resolve(HACBSRConfig(scale=3, seed=5, lr_noise=0.02), "cpu")
    assert (plan.scale, plan.seed, plan.kernel_size, plan.config.scale) == (3, 5, 15, 3)
    record = plan.to_dict()
    assert record["kernel_model"] == "hacbsr" and record["iterations"] == 100 and record["lr_noise"] == 0.02
    assert record["kernel"]["prior_optimizer"] == "own" and "hyper-Laplacian ×2.0" in record["loss_schedule"]
    json.dumps(record)  # (provenance is JSON)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.iterations = 3
