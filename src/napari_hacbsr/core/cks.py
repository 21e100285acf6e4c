"""Contrastive Kernel Sampling (paper Sec. III-B-1, Eqs. 4-6; spec §5.2).

Best-of-M selection of prior kernels by a score J that rewards moderate similarity (τ) to the
most recent kernels and penalises near-duplicates (S_max > σ_max) and outliers (S_min < σ_min).
Everything here is numpy on K×K arrays and is vectorised over the history window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .losses import SSIM_K1, SSIM_K2

_EPS = 1e-12
CALIBRATION_DRAWS = 24  # prior kernels whose pairwise similarities set the calibrated scale


@dataclass(frozen=True)
class KernelFeatures:
    """Per-kernel quantities that the similarity needs, computed once per kernel."""

    flat: np.ndarray  # (K²,) raw values
    prob: np.ndarray  # (K²,) clip(k, 0) normalised to sum 1
    descriptor: np.ndarray  # (5,) std, max, entropy, sqrt(λmax), sqrt(λmin) of p


def kernel_features(kernel: np.ndarray) -> KernelFeatures:
    """The quantities the similarity needs of `kernel`: its values, its normalised mass, its descriptor."""
    k = np.asarray(kernel, dtype=np.float64)
    size = k.shape[0]
    p = np.clip(k, 0.0, None)
    p = p / max(p.sum(), _EPS)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    cr, cc = (p * rows).sum(), (p * cols).sum()
    dr, dc = rows - cr, cols - cc
    cov = np.array([[(p * dr * dr).sum(), (p * dr * dc).sum()], [(p * dr * dc).sum(), (p * dc * dc).sum()]])
    eig = np.clip(np.linalg.eigvalsh(cov), 0.0, None)  # ascending
    descriptor = np.array([p.std(), p.max(), -(p * np.log(p + _EPS)).sum(), np.sqrt(eig[1]), np.sqrt(eig[0])])
    return KernelFeatures(k.ravel(), p.ravel(), descriptor)


def _stack(features: list[KernelFeatures]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.stack([f.flat for f in features]),
        np.stack([f.prob for f in features]),
        np.stack([f.descriptor for f in features]),
    )


def similarity(
    candidate: KernelFeatures, others: list[KernelFeatures], weights: tuple[float, float, float] = (0.5, 0.2, 0.3)
) -> np.ndarray:
    """S(c, k_t) = a·Pearson + a_ssim·SSIM + a_feat·f_s for every k_t in `others` (Eq. 4)."""
    flat, prob, desc = _stack(others)
    a = candidate.flat
    n = a.size
    # Pearson correlation; 0 when either kernel is constant.
    ac = a - a.mean()
    bc = flat - flat.mean(axis=1, keepdims=True)
    sa, sb = np.sqrt((ac**2).sum()), np.sqrt((bc**2).sum(axis=1))
    denom = sa * sb
    pearson = np.where(denom > 0, (bc @ ac) / np.where(denom > 0, denom, 1.0), 0.0)
    # One global SSIM window per pair, L = larger maximum (A6), population moments.
    level = np.maximum(a.max(), flat.max(axis=1))
    c1, c2 = (SSIM_K1 * level) ** 2, (SSIM_K2 * level) ** 2
    mu_a, mu_b = a.mean(), flat.mean(axis=1)
    var_a, var_b = (ac**2).sum() / n, (bc**2).sum(axis=1) / n
    cov = (bc @ ac) / n
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    # Descriptor similarity (A5): half statistics agreement, half Bhattacharyya overlap.
    da = candidate.descriptor
    rel = np.abs(desc - da) / (np.abs(desc) + np.abs(da) + 1e-8)
    stat_sim = 1.0 - rel.mean(axis=1)
    bhattacharyya = np.sqrt(prob * candidate.prob).sum(axis=1)
    f_s = 0.5 * stat_sim + 0.5 * bhattacharyya
    wp, ws, wf = weights
    return wp * pearson + ws * ssim + wf * f_s


def novelty_score(sims: np.ndarray, tau: float = 0.3, sigma_min: float = 0.3, sigma_max: float = 0.8) -> float:
    """J = -|S_avg - τ| - [σ_min - S_min]₊ - [S_max - σ_max]₊ (Eq. 6, reading A7)."""
    return float(-abs(sims.mean() - tau) - max(0.0, sigma_min - sims.min()) - max(0.0, sims.max() - sigma_max))


def similarity_spread(
    draw: Callable[[], np.ndarray], weights: tuple[float, float, float], n: int
) -> tuple[float, float]:
    """5th and 95th percentiles of S over all pairs of `n` kernels from `draw`.

    Between Gaussian prior kernels S lies in ~[0.64, 1], so Eq. 6's τ = 0.3 and σ_min = 0.3 would
    never be reached; mapping this spread to [0, 1] makes the thresholds mean "30 % of the way
    from the prior's least to its most similar pairs", where they act.
    """
    feats = [kernel_features(draw()) for _ in range(n)]
    sims = np.concatenate([similarity(feats[i], feats[i + 1 :], weights) for i in range(n - 1)])
    lo, hi = np.percentile(sims, [5, 95])
    return float(lo), float(max(hi, lo + 1e-6))


class ContrastiveKernelSampler:
    """Draws kernels from `base_sampler`, keeping the best of `proposals` by J against history.

    The history H_k is a FIFO of the accepted kernels (capacity = window). With an empty
    history the first proposal is accepted (A8). proposals=1 is plain random sampling ("-CK").
    With `calibrate`, S is rescaled by the prior's own similarity spread (`similarity_spread`)
    before the thresholds apply. Independent candidates let J's preference for the rarest (narrowest)
    kernels shift the accepted kernels' width; `propose` can draw candidates that share one size.
    """

    def __init__(
        self,
        base_sampler: Callable[[], np.ndarray],
        proposals: int = 8,
        window: int = 20,
        weights: tuple[float, float, float] = (0.5, 0.2, 0.3),
        tau: float = 0.3,
        sigma_min: float = 0.3,
        sigma_max: float = 0.8,
        calibrate: bool = False,
        propose: Callable[[int], list[np.ndarray]] | None = None,
    ) -> None:
        self.base_sampler = base_sampler
        # the M candidates: M independent prior draws (paper), or `propose(M)` (e.g. one size, M shapes)
        self.propose = propose or (lambda m: [base_sampler() for _ in range(m)])
        self.proposals = proposals
        self.weights = weights
        self.tau, self.sigma_min, self.sigma_max = tau, sigma_min, sigma_max
        self.history: deque[tuple[np.ndarray, KernelFeatures, float]] = deque(maxlen=window)
        self.spread = (0.0, 1.0)  # S -> (S - lo) / (hi - lo); identity unless calibrated
        if calibrate and proposals > 1:
            self.spread = similarity_spread(base_sampler, weights, CALIBRATION_DRAWS)

    def scaled_similarity(self, candidate: np.ndarray, window: list[KernelFeatures]) -> np.ndarray:
        """The candidate's similarity to `window`, rescaled by the prior's spread (0 and 1 at its ends)."""
        lo, hi = self.spread
        return (similarity(kernel_features(candidate), window, self.weights) - lo) / (hi - lo)

    def select(self, candidates: list[np.ndarray]) -> tuple[int, float]:
        """Index and J of the best candidate against the current history (ties -> first)."""
        if not self.history:
            return 0, 0.0
        window = [feat for _, feat, _ in self.history]
        scores = [
            novelty_score(self.scaled_similarity(c, window), self.tau, self.sigma_min, self.sigma_max)
            for c in candidates
        ]
        best = int(np.argmax(scores))
        return best, scores[best]

    def __call__(self) -> np.ndarray:
        """The next kernel: the best of `proposals` candidates against the history (one: a plain prior draw)."""
        if self.proposals == 1:  # "-CK": plain random sampling, no history to score against
            return self.base_sampler()
        candidates = self.propose(self.proposals)
        best, score = self.select(candidates)
        kernel = candidates[best]
        self.history.append((kernel, kernel_features(kernel), score))
        return kernel
