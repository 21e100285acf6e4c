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
        ({"scale": 1}, "at least 2, got 1: ×1 does not add any pixels"),
        ({"scale": 2.5}, "integer"),
        ({"scale": 9}, "at most 8, got 9: the blur-kernel model"),
        ({"mode": "fast"}, "mode must be one of"),
        ({"iterations": 0}, "iterations"),
        ({"lr_image": -1.0}, "lr_image"),
        ({"encoder": "vgg"}, "encoder"),
        ({"alpha_range": (0.9, 0.8)}, "alpha_range"),
        ({"cks_same_width": "yes"}, "'cks_same_width': 'yes'.* must be True, False or None"),
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
    assert base.iterations is None and base.yield_every is None and base.ssim_phase is None
    gpu, cpu = base.for_device("cuda:0"), base.for_device("cpu")
    assert (gpu.iterations, gpu.yield_every, gpu.ssim_iterations) == (300, 10, 81)  # the paper's 81 of 300
    assert HACBSRConfig.preset("noise-free").for_device("cuda").ssim_iterations == 300  # 1-SSIM throughout
    mlmc = base.replace(mode="mlmc").for_device("mps")
    assert (mlmc.iterations, mlmc.ssim_iterations) == (200, 81)  # the MLMC code's `it <= 80`
    assert (cpu.iterations, cpu.yield_every) == (100, 1) and cpu.ssim_iterations == 27
    # what the user set is kept on every device
    mine = HACBSRConfig(iterations=30, yield_every=5, ssim_phase=3).for_device("cuda")
    assert (mine.iterations, mine.yield_every, mine.ssim_iterations) == (30, 5, 3)
    assert HACBSRConfig(iterations=30).ssim_iterations == 8
    assert HACBSRConfig(iterations=30, ssim_share=1.0).ssim_iterations == 30
    assert HACBSRConfig(mode="mlmc", iterations=30).ssim_iterations == 12


def test_each_mode_fills_its_own_kernel_model_and_keeps_what_was_set():
    hacbsr = HACBSRConfig(scale=4).for_device("cpu")
    assert (hacbsr.kernel_prior, hacbsr.prior_optimizer, hacbsr.warmup_batch, hacbsr.cks_calibrate) == (
        "data",
        "own",
        8,
        True,
    )
    assert (hacbsr.warmup_lr, hacbsr.prior_lr) == (1e-3, 3e-4)
    # the mode is read when the defaults are filled, so switching mode first gives MLMC's model
    mlmc = HACBSRConfig().replace(mode="mlmc", lr_kernel=2e-4).for_device("cpu")
    assert (mlmc.kernel_prior, mlmc.prior_optimizer, mlmc.warmup_batch, mlmc.cks_calibrate) == (
        "mlmc",
        "shared",
        1,
        False,
    )
    assert mlmc.warmup_lr == mlmc.prior_lr == 2e-4  # MLMC's warm-up runs at the kernel rate
    mine = HACBSRConfig(scale=4, kernel_prior="mlmc", prior_optimizer="shared").for_device("cpu")
    assert (mine.kernel_prior, mine.prior_optimizer, mine.warmup_batch) == ("mlmc", "shared", 8)
    assert mine.for_device("cpu") == mine  # filling is idempotent (the Solver fills again)
    with pytest.raises(ValueError, match="ssim_share"):
        HACBSRConfig(ssim_share=1.5)
    with pytest.raises(ValueError, match="prior_optimizer"):
        HACBSRConfig(prior_optimizer="sgd")


def test_hacbsr_takes_the_mlmc_kernel_model_at_x2_and_its_own_above():
    fields = ("kernel_prior", "warmup_lr", "warmup_batch", "prior_optimizer", "cks_calibrate", "kl_weighting")
    for scale in (2, 3, 4, 6):
        default = HACBSRConfig(scale=scale).for_device("cpu")
        mlmc_model = HACBSRConfig.preset("mlmc-kernel", scale=scale).for_device("cpu")
        own_model = HACBSRConfig.preset("hacbsr-kernel", scale=scale).for_device("cpu")
        expected = mlmc_model if scale == 2 else own_model
        assert {f: getattr(default, f) for f in fields} == {f: getattr(expected, f) for f in fields}, scale
        # ... the model only: HACBSR's image side and loss schedule at every scale
        assert (default.mode, default.use_cks, default.use_history, default.ssim_iterations) == (
            "hacbsr",
            True,
            True,
            27,
        )
    assert HACBSRConfig.preset("mlmc-kernel", scale=4).for_device("cpu").kernel_prior == "mlmc"  # pinned
    assert HACBSRConfig.preset("hacbsr-kernel", scale=2).for_device("cpu").kernel_prior == "data"
    x2 = HACBSRConfig(scale=2).for_device("cpu")
    assert (x2.kernel_prior, x2.prior_optimizer, x2.kl_weighting, x2.warmup_lr) == ("mlmc", "shared", "fit", 1e-4)
    # so the noise-free preset at ×2 is the configuration measured as "hacbsr-noise-free-mlmc-kernel"
    noise_free = HACBSRConfig.preset("noise-free", scale=2).for_device("cuda")
    assert noise_free == HACBSRConfig.preset("mlmc-kernel", scale=2, ssim_share=1.0).for_device("cuda")
    # a field set by the user wins over the scale's default
    assert HACBSRConfig(scale=2, kernel_prior="data").for_device("cpu").kernel_prior == "data"
    assert HACBSRConfig(scale=4).replace(scale=2).for_device("cpu").kernel_prior == "mlmc"


def test_the_gpu_test_is_defined_once():
    from napari_hacbsr.core.config import is_accelerator

    assert is_accelerator("cuda:1") and is_accelerator("mps") and not is_accelerator("cpu")


def test_mlmc_kernel_preset_is_hacbsr_with_the_mlmc_codes_kernel_model():
    cfg = HACBSRConfig.preset("mlmc-kernel", scale=2).for_device("cuda")
    mlmc = HACBSRConfig(scale=2, mode="mlmc").for_device("cuda")
    for name in ("kernel_prior", "prior_optimizer", "warmup_batch", "cks_calibrate"):
        assert getattr(cfg, name) == getattr(mlmc, name)
    assert cfg.warmup_lr == mlmc.warmup_lr == cfg.lr_kernel
    assert cfg.kl_weighting == "fit"  # MLMC's MCMC weights on HACBSR's CKS draws
    # ... and HACBSR's image side and schedule
    assert (cfg.mode, cfg.use_cks, cfg.use_history, cfg.outer_iterations) == ("hacbsr", True, True, 300)
    assert cfg.ssim_iterations == 81
