"""The HACBSR optimisation loop (paper Algorithm 1; spec §5.6) and MLMC mode (spec §3.2).

`iterate` is the one generator behind the napari widget, the console, the CLI and batch runs.
MLMC mode and the ablations (-CK, -CL) are switches of the config, not other loops (the stage by stage
table: docs/algorithm.md, "MLMC mode and the ablations are switches of one loop").
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Generator
from contextlib import nullcontext
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from .cks import ContrastiveKernelSampler
from .config import HACBSRConfig
from .convergence import Convergence, first_check
from .degradation import KernelSampler, forward_model, phase_correct_bicubic
from .device import free_device_memory, is_out_of_memory, make_adam, out_of_memory, resolve_device
from .encoder import load_encoder, run_labels
from .image import PreparedImage
from .losses import DataTerm, alpha_from_loss, data_loss, hyper_laplacian, meta_weights
from .networks import FixedKernel, ImageGenerator, KernelGenerator
from .plan import RunPlan, prepare_run
from .records import Result, Step

LATENT_KERNEL = 200
_RELEASED: tuple[str, ...] = ("net_x", "net_k", "net_hist", "opt_x", "opt_k", "opt_prior", "encoder", "z_x", "y")
_RELEASED += ("mask", "data", "x_last", "k_last", "feat_hist")  # (what a finished Solver lets go of)
_NOISE_SCALE = 0.1  # z_x, z_k ~ U(0, 1) * 0.1, fixed (A27)


class Solver:
    """State of one run, with one method per stage so benchmarks can time each of them."""

    def __init__(self, prepared: PreparedImage, plan: RunPlan, device: torch.device | None = None) -> None:
        config = plan  # (the plan reads the config's plain fields through)
        device = torch.device(plan.device) if device is None else device
        self.cfg = plan
        self.prepared = prepared
        self.device = device
        self.timings = dict.fromkeys(("setup", "warmup", "kl", "cil", "history", "meta"), 0.0)
        t0 = time.perf_counter()
        scale, channels = config.scale, prepared.net_channels
        _, h, w = prepared.y.shape
        # All torch randomness is drawn here, on the CPU, from a private seed: the same init on every
        # device (CUDA runs then drift: docs/user-guide.md), the caller's global RNG state untouched.
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(config.seed)
            self.z_x = torch.rand(1, channels, scale * h, scale * w) * _NOISE_SCALE
            self.z_k = torch.rand(LATENT_KERNEL) * _NOISE_SCALE
            self.net_x = ImageGenerator(channels, channels)
            self.net_k: torch.nn.Module = KernelGenerator(config.kernel_size, LATENT_KERNEL)
        self.net_hist: ImageGenerator | None = None
        if config.history_enabled:  # A14: an exact copy at init, parameters-only EMA, no grad
            self.net_hist = copy.deepcopy(self.net_x).requires_grad_(False).to(device)
        self.net_x.to(device)
        self.net_k.to(device)
        self.z_x, self.z_k = self.z_x.to(device), self.z_k.to(device)
        self.y = torch.from_numpy(prepared.y)[None].to(device)
        self.mask = None if prepared.mask is None else torch.from_numpy(prepared.mask)[None].to(device)
        self.data = DataTerm(self.y, self.mask)
        self.prior_weight = plan.image_prior_weight  # (one noise-aware value for the whole run)
        self.kernel_kind = plan.kernel_loss_at(0)  # (outer_iteration re-reads it each iteration)
        self.history_in_mse = plan.history_in_mse
        model = plan.kernel
        assert model.prior_lr is not None  # (the plan resolves the rates: KernelModel.with_rates)
        self.opt_x = make_adam(self.net_x.parameters(), config.lr_image, device)
        self.opt_k = make_adam(self.net_k.parameters(), config.lr_kernel, device)  # one Adam (A19)
        self.opt_prior = (
            make_adam(self.net_k.parameters(), model.prior_lr, device) if model.prior_optimizer == "own" else self.opt_k
        )
        rng = np.random.default_rng(config.seed)
        self.prior = KernelSampler.prior(scale, rng, config.sampling, model.prior)
        if config.mode == "hacbsr":
            self.draw_kernel: Callable[[], np.ndarray] = ContrastiveKernelSampler(
                self.prior,
                config.proposals,
                config.cks_window,
                config.cks_weights,
                config.cks_tau,
                config.cks_sigma_min,
                config.cks_sigma_max,
                model.cks_calibrate,
                self.prior.same_width if model.cks_same_width else None,
            )
        else:
            self.draw_kernel = self.prior
        self.encoder = load_encoder(plan.config, device)
        self.feat_hist: torch.Tensor | None = None
        self.global_step = 0
        self.alpha: float | None = None
        self.x_last: torch.Tensor | None = None
        self.k_last: torch.Tensor | None = None
        self.autocast = (
            torch.autocast(device.type, dtype=torch.bfloat16) if config.precision == "bf16" else nullcontext()
        )
        self.timings["setup"] = time.perf_counter() - t0

    # -------------------------------------------------------------- helpers
    def _kernels(self, n: int, draw: Callable[[], np.ndarray]) -> torch.Tensor:
        stack = np.stack([draw() for _ in range(n)]).astype(np.float32)
        return torch.from_numpy(stack).to(self.device)

    def _kernel_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer | None = None) -> None:
        optimizer = optimizer or self.opt_k
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def generate(self) -> torch.Tensor:
        """G_x's current image (1, C, sH, sW), in float32."""
        with self.autocast:
            x = self.net_x(self.z_x)
        return x.float()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """f_c's features of `x` (float32), for the history contrast."""
        assert self.encoder is not None
        return self.encoder.module(x).float()

    # -------------------------------------------------------------- stages
    def warmup(self, should_stop: Callable[[], bool]) -> bool:
        """Fit G_k to prior kernels (A18); returns False if stopped. Each step fits the mean of `warmup_batch`
        prior kernels (the MSE to a batch is the MSE to its mean plus a constant) at `warmup_lr`: G_k ends near
        the prior's mean kernel, not the near-uniform one of single targets at lr_kernel (docs/algorithm.md).
        """
        t0 = time.perf_counter()
        warmup_lr = self.cfg.kernel.warmup_lr
        assert warmup_lr is not None  # (resolved in the plan)
        self._set_kernel_lr(warmup_lr)
        try:
            for _ in range(self.cfg.kernel_warmup):
                if should_stop():  # every step: Stop answers within one step in every stage
                    return False
                targets = self._kernels(self.cfg.kernel.warmup_batch, self.draw_kernel)
                self._kernel_step(F.mse_loss(self.net_k(self.z_k), targets.mean(dim=0)))
            if self.net_hist is not None and not should_stop():  # (a full generator pass: not when stopping)
                self.refresh_history_features()
            return self.net_hist is None or self.feat_hist is not None
        finally:
            self._set_kernel_lr(self.cfg.lr_kernel)
            self.timings["warmup"] += time.perf_counter() - t0

    def _set_kernel_lr(self, lr: float) -> None:
        for group in self.opt_k.param_groups:
            group["lr"] = lr

    def kernel_prior_step(self) -> float:
        """HACBSR's KL stage (Eq. 5) or MLMC's MCMC kernel approximation; one Adam step on φ_k."""
        t0 = time.perf_counter()
        loss = self.prior_loss()
        self._kernel_step(loss, self.opt_prior)
        self.timings["kl"] += time.perf_counter() - t0
        return float(loss.item())

    def prior_loss(self) -> torch.Tensor:
        """The prior stage's loss on G_k: its distance to freshly drawn prior kernels, fit-weighted or not."""
        cfg = self.cfg
        if cfg.mode == "hacbsr":
            targets = self._kernels(cfg.kl_kernels, self.draw_kernel)
            weighted = cfg.kernel.kl_weighting == "fit"
        else:
            targets = self._kernels(cfg.mcmc_samples, self.prior)
            weighted = True
        if weighted:  # MLMC's MCMC weights: the kernels that best reproduce the LR image pull hardest
            with torch.no_grad():
                x = self.generate()
                fits = [self.data(forward_model(x, t, cfg.scale), False).item() for t in targets]
            weights = torch.tensor(meta_weights(fits), device=self.device)
        else:
            weights = torch.ones(len(targets), device=self.device)
        k = self.net_k(self.z_k)
        return (weights * ((k[None] - targets) ** 2).mean(dim=(1, 2))).sum()

    def image_step(self, kernel: torch.Tensor, use_ssim: bool) -> tuple[dict[str, float], torch.Tensor]:
        """One CIL step on φ_x (Eqs. 7-9); returns its losses and the kernel-side loss graph."""
        t0 = time.perf_counter()
        cfg = self.cfg
        x = self.generate()
        core = self.data(forward_model(x, kernel.detach(), cfg.scale), use_ssim)
        loss = core
        record = {"data": core}
        if self.prior_weight > 0:
            prior = self.prior_weight * hyper_laplacian(x, cfg.hyper_laplacian_p) / self.y.numel()
            loss = loss + prior
            record["hyper_laplacian"] = prior
        if self._history_acts(use_ssim):
            assert self.feat_hist is not None  # (set by refresh_history_features once history acts)
            contrast = F.mse_loss(self.features(x), self.feat_hist)
            loss = loss + cfg.theta_h * contrast
            record["contrast"] = contrast
        self.opt_x.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_x.step()
        self.x_last = x.detach()
        kernel_loss = self.data.for_kernel(forward_model(self.x_last, kernel, cfg.scale), use_ssim, self.kernel_kind)
        self.global_step += 1
        record["kernel"] = kernel_loss
        # one device sync per step for all the logged values
        numbers = torch.stack([v.detach().float() for v in record.values()]).tolist()
        values = dict(zip(record, numbers, strict=True))
        self.timings["cil"] += time.perf_counter() - t0
        return values, kernel_loss

    def _history_acts(self, use_ssim: bool) -> bool:
        """Whether the history term (and its EMA update) acts in this phase (`history_in_mse`)."""
        return self.net_hist is not None and (use_ssim or self.history_in_mse)

    def refresh_history_features(self) -> None:
        """Recompute the history network's image features after its EMA update."""
        assert self.net_hist is not None
        with torch.no_grad(), self.autocast:
            x_hist = self.net_hist(self.z_x).float()
        with torch.no_grad():
            self.feat_hist = self.features(x_hist)

    def history_update(self, current_loss: float) -> None:
        """Eq. 14-15: EMA of the image parameters with loss-adaptive momentum α."""
        t0 = time.perf_counter()
        cfg = self.cfg
        self.alpha = alpha_from_loss(current_loss, cfg.alpha_range, cfg.alpha_loss_range)
        assert self.net_hist is not None
        with torch.no_grad():
            for p_hist, p in zip(self.net_hist.parameters(), self.net_x.parameters(), strict=True):
                p_hist.mul_(self.alpha).add_(p, alpha=1.0 - self.alpha)
        self.refresh_history_features()
        self.timings["history"] += time.perf_counter() - t0

    def meta_update(self, kernel_losses: list[torch.Tensor], values: list[float] | None = None) -> float:
        """Eq. 10-13 (HACBSR: weighted by Eq. 12) or MLMC's plain sum when values is None."""
        t0 = time.perf_counter()
        if values is None:
            loss = torch.stack(kernel_losses).sum()
        else:
            weights = meta_weights(values)
            # (a non-empty sum of tensors is a tensor; sum's stub also allows its start, 0)
            loss = cast(torch.Tensor, sum(w * l for w, l in zip(weights, kernel_losses, strict=True)))
        self._kernel_step(loss)
        self.timings["meta"] += time.perf_counter() - t0
        return float(loss.item())

    # -------------------------------------------------------------- one outer iteration
    def outer_iteration(self, index: int, should_stop: Callable[[], bool]) -> tuple[dict[str, float], bool]:
        """KL/MCMC stage, P image steps, kernel meta update. Returns (losses, stopped)."""
        cfg = self.cfg
        if should_stop():  # before the KL stage: fit-weighted, it is a full generator pass
            return {}, True
        losses: dict[str, float] = {"kl": self.kernel_prior_step()}
        use_ssim = index < cfg.ssim_iterations
        self.kernel_kind = cfg.kernel_loss_at(index)
        hacbsr = cfg.mode == "hacbsr"
        kernel = self.net_k(self.z_k) if hacbsr else None  # k_cil, fixed for the P steps (Alg. 1 l.7)
        kernel_losses: list[torch.Tensor] = []
        kernel_values: list[float] = []
        for _ in range(cfg.inner_steps):
            if should_stop():
                return losses, True
            if not hacbsr:
                kernel = self.net_k(self.z_k)  # MLMC re-reads the kernel after each meta step
            assert kernel is not None
            self.k_last = kernel.detach()
            step, kernel_loss = self.image_step(kernel, use_ssim)
            losses.update(step)
            kernel_losses.append(kernel_loss)
            kernel_values.append(step["kernel"])
            if self._history_acts(use_ssim) and self.global_step % cfg.history_interval == 0:
                self.history_update(step["data"])
            if not hacbsr and self.global_step % cfg.mlmc_meta_interval == 0:
                losses["meta"] = self.meta_update(kernel_losses)
                kernel_losses, kernel_values = [], []
        if hacbsr:  # Eq. 12's weights over the P step losses
            losses["meta"] = self.meta_update(kernel_losses, kernel_values)
        return losses, False

    # -------------------------------------------------------------- outputs
    def current_estimate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The last image and kernel (or fresh forward passes before the first step), as tensors."""
        with torch.no_grad():
            x = self.x_last if self.x_last is not None else self.generate()
            k = self.k_last if self.k_last is not None else self.net_k(self.z_k)
        return x, k

    @property
    def trained(self) -> bool:
        """Whether an image step has run (else the generator's output is untrained noise)."""
        return self.x_last is not None

    def kernel_estimate(self) -> np.ndarray:
        """The current kernel alone (no image forward pass)."""
        with torch.no_grad():
            return (self.k_last if self.k_last is not None else self.net_k(self.z_k)).cpu().numpy().astype(np.float32)

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """The current estimate as arrays: the image in the input's layout and range, the kernel."""
        x, k = self.current_estimate()
        return self.prepared.to_output(x[0].cpu().numpy()), k.cpu().numpy().astype(np.float32)

    def lr_consistency(self) -> float:
        """The MSE between the LR image and the current estimate blurred and downsampled."""
        x, k = self.current_estimate()
        with torch.no_grad():
            return float(data_loss(forward_model(x, k, self.cfg.scale), self.y, self.mask, False).item())

    def release(self) -> None:
        """Drop the networks, optimisers and tensors so that their memory can be freed."""
        for name in _RELEASED:
            setattr(self, name, None)


def iterate(
    image: np.ndarray | PreparedImage,
    config: HACBSRConfig | RunPlan | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    channel_axis: int | None = None,
    known_kernel: np.ndarray | None = None,
) -> Generator[Step, None, Result]:
    """Run HACBSR on `image`, yielding a `Step` per outer iteration and returning a `Result`.

    image: 2-D (H, W), or 3-D with `channel_axis` declared; any real dtype; NaN/inf = missing;
    or an image already checked by `core.image.prepare_image` (with this config's scale).
    config: a `RunPlan` (`core.plan.resolve`), or a config (None: the default) resolved here for its
    device and this image. should_stop: polled before every inner step; when it returns True the run ends
    and the current estimate is returned (Result.stopped_early = True). The first Step (stage "setup") says
    which device and feature encoder the run uses; the Result carries the plan. The input is never modified.
    The run ends early once converged (`core.convergence`, the plan's `convergence_tol`). known_kernel (the
    benchmarks' oracle): G_k replaced by this K×K kernel, so only the image prior is trained.
    """
    prepared, cfg = prepare_run(image, config, channel_axis)
    device = resolve_device(cfg.device)
    stop = should_stop or (lambda: False)
    start = time.perf_counter()
    total = cfg.outer_iterations
    solver: Solver | None = None
    try:
        solver = Solver(prepared, cfg, device)
        if known_kernel is not None:  # (HACBSR mode: its kernel stages fit it to itself, and no parameter moves)
            solver.net_k, solver.draw_kernel = FixedKernel(known_kernel).to(device), lambda: known_kernel
        run_info: dict[str, Any] = run_labels(device, solver.encoder)
        converge = Convergence(cfg.convergence_tol, first_check(cfg.share_iterations))
        history: list[dict[str, float]] = []
        # the first picture: a cubic upsample on the run's sampling grid, until the generator has one
        preview = prepared.to_output(
            np.clip(phase_correct_bicubic(prepared.y, cfg.scale, cfg.sampling, channel_axis=0), 0.0, 1.0)
        )
        yield Step(0, total, "setup", {}, None, time.perf_counter() - start, preview, None, **run_info)
        stopped = not solver.warmup(stop) or stop()  # (the snapshot below is a full generator pass)
        # stopped in warm-up: the cubic upsample stands in (no forward pass of the untrained generator)
        sr, kernel = (preview, solver.kernel_estimate()) if stopped else solver.snapshot()
        yield Step(0, total, "warmup", {}, None, time.perf_counter() - start, sr, kernel)
        done = 0
        for index in range(total if not stopped else 0):
            losses, stopped = solver.outer_iteration(index, stop)
            if stopped:
                break
            done = index + 1
            losses["lr_mse"] = solver.lr_consistency()
            converged = converge.update(losses["lr_mse"], solver.kernel_estimate())
            history.append(losses)
            with_arrays = done == 1 or done == total or converged or done % cfg.live_every == 0
            live_sr, live_kernel = solver.snapshot() if with_arrays else (None, None)
            elapsed = time.perf_counter() - start
            yield Step(done, total, "iterate", losses, solver.alpha, elapsed, live_sr, live_kernel)
            if converged:
                break
        if solver.trained or not stopped:
            sr, kernel = solver.snapshot()
        timings = {**solver.timings, "total": time.perf_counter() - start}
        return Result(
            sr=sr,
            kernel=kernel,
            plan=cfg,
            **run_info,
            iterations_done=done,
            stopped_early=stopped,
            converged=not stopped and done < total,
            timings=timings,
            normalization=prepared.normalization,
            missing_pixels=prepared.missing_pixels,
            channel_axis=prepared.channel_axis,
            losses=history,
            lr_consistency=solver.lr_consistency() if solver.trained or not stopped else float("nan"),
            inner_steps_done=solver.global_step,
        )
    except Exception as exc:
        if is_out_of_memory(exc):
            solver = None
            raise out_of_memory(device, prepared.y.shape[1:], cfg.scale) from None
        raise
    finally:
        if solver is not None:
            solver.release()
        free_device_memory(device)
