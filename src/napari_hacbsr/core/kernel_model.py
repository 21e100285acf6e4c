"""The kernel models by name: how G_k is warmed up, which prior pulls it and with which optimiser, what it fits.

A run's kernel model is one of three named, frozen entries; `HACBSRConfig.kernel_model` picks one, and None
means one readable rule (`default_kernel_model`): the MLMC code's model at ×2 and in MLMC mode, HACBSR's own
from ×3. At ×2 the kernel (11 × 11) has the most LR pixels per parameter and the data pin it without a strong
prior; at ×4 HACBSR's own model is far ahead (docs/algorithm.md, "Kernel models").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .choices import KERNEL_MODEL_NAMES


@dataclass(frozen=True)
class KernelModel:
    """One kernel model. `warmup_lr`/`prior_lr` None mean the run's `lr_kernel` (resolved in the RunPlan)."""

    prior: str  # covariance range of the prior kernels (core.degradation.prior_lambda_range)
    warmup_lr: float | None  # the warm-up's Adam rate
    warmup_batch: int  # prior kernels averaged per warm-up step (one: the paper's random target)
    prior_optimizer: str  # "shared": the meta step's Adam (spec A19); "own": a second Adam at prior_lr
    prior_lr: float | None
    cks_calibrate: bool  # rescale CKS's similarity by the prior's spread, so τ and σ act
    cks_same_width: bool  # CKS's M candidates share one size (else J's pick narrows the prior)
    kl_weighting: str  # "uniform": Eq. 5's plain mean; "fit": weighted by how well each kernel fits the LR
    # what the meta step fits: "data" (the image's loss), or "scaled-mse-after-share": the image's loss for the
    # mode's 1-SSIM share, then MSE's direction at 1-SSIM's size (with a shared Adam 1-SSIM drifts G_k narrow
    # and plain MSE's small steps leave it to the prior)
    kernel_loss: str

    def with_rates(self, lr_kernel: float) -> KernelModel:
        """A copy of this model with its None rates set to `lr_kernel`."""
        return replace(
            self,
            warmup_lr=lr_kernel if self.warmup_lr is None else self.warmup_lr,
            prior_lr=lr_kernel if self.prior_lr is None else self.prior_lr,
        )


KERNEL_MODELS: dict[str, KernelModel] = {
    # HACBSR's own (issue 8): the data's PSF range, a warm-up that imposes the prior's mean, a prior stage with
    # its own Adam so it pulls as hard as the data does
    "hacbsr": KernelModel("data", 1e-3, 8, "own", 3e-4, True, True, "uniform", "data"),
    # the MLMC code's: its shifted prior, plain warm-up, one shared Adam, prior kernels weighted by their fit
    "mlmc": KernelModel("mlmc", None, 1, "shared", None, False, False, "fit", "scaled-mse-after-share"),
    # the engine as first implemented (the "paper" preset, reproduced bit for bit)
    "paper": KernelModel("mlmc", 1e-4, 1, "shared", 1e-4, False, False, "uniform", "data"),
}
assert tuple(KERNEL_MODELS) == KERNEL_MODEL_NAMES


def default_kernel_model(mode: str, scale: int) -> str:
    """The rule for `kernel_model=None`: MLMC mode and ×2 run the MLMC code's model, ×3 and above HACBSR's own."""
    return "mlmc" if mode == "mlmc" or int(scale) <= 2 else "hacbsr"
