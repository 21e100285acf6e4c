import numpy as np
import pytest

from napari_hacbsr.core.cks import ContrastiveKernelSampler, kernel_features, novelty_score, similarity
from napari_hacbsr.core.degradation import KernelSampler, gaussian_kernel


def feats(*kernels):
    return [kernel_features(k) for k in kernels]


def test_identical_kernels_have_similarity_one():
    k = gaussian_kernel(19, 4, 6.0, 3.0, 0.4)
    assert similarity(kernel_features(k), feats(k))[0] == pytest.approx(1.0, abs=1e-6)


def test_similarity_is_symmetric_and_ordered():
    a = gaussian_kernel(19, 4, 6.0, 3.0, 0.4)
    near = gaussian_kernel(19, 4, 7.0, 3.5, 0.6)
    far = gaussian_kernel(19, 4, 19.0, 3.8, 2.0)
    s_near = similarity(kernel_features(a), feats(near))[0]
    s_far = similarity(kernel_features(a), feats(far))[0]
    assert s_near > s_far
    assert s_near == pytest.approx(similarity(kernel_features(near), feats(a))[0], abs=1e-9)


def test_novelty_score_formula():
    assert novelty_score(np.array([0.3, 0.3])) == pytest.approx(0.0)
    # mean 0.5 -> -0.2; min 0.1 -> -(0.3-0.1); max 0.9 -> -(0.9-0.8)
    assert novelty_score(np.array([0.1, 0.5, 0.9])) == pytest.approx(-0.2 - 0.2 - 0.1)


def _history_sampler(history_kernels, proposals=8):
    cks = ContrastiveKernelSampler(lambda: None, proposals=proposals)
    for k in history_kernels:
        cks.history.append((k, kernel_features(k), 0.0))
    return cks


def test_duplicate_scores_worse_than_moderately_similar_kernel():
    history = [gaussian_kernel(19, 4, 4.0 + i, 4.0, 0.3 * i) for i in range(5)]
    cks = _history_sampler(history)
    duplicate = history[-1].copy()
    moderate = gaussian_kernel(19, 4, 14.0, 3.8, 1.2)
    best, _ = cks.select([duplicate, moderate])
    assert best == 1


def test_outlier_scores_worse_than_moderately_similar_kernel():
    history = [gaussian_kernel(19, 4, 4.0, 3.7, 0.3 * i) for i in range(5)]
    cks = _history_sampler(history)
    outlier = np.zeros((19, 19))
    outlier[1, 17] = 1.0  # a delta far from the common centre: no overlap with the history
    moderate = gaussian_kernel(19, 4, 20.0, 20.0, 0.0)  # wider, same centre: S ≈ 0.69
    best, score = cks.select([outlier, moderate])
    assert best == 1
    window = [f for _, f, _ in cks.history]
    assert novelty_score(similarity(kernel_features(outlier), window)) < score


def test_fifo_capacity_cold_start_and_minus_ck():
    rng = np.random.default_rng(0)
    base = KernelSampler.prior(2, rng)
    cks = ContrastiveKernelSampler(base, proposals=4, window=20)
    first = cks()
    assert len(cks.history) == 1 and np.array_equal(cks.history[0][0], first)
    for _ in range(30):
        cks()
    assert len(cks.history) == 20
    plain = ContrastiveKernelSampler(KernelSampler.prior(2, np.random.default_rng(0)), proposals=1)
    reference = KernelSampler.prior(2, np.random.default_rng(0))
    assert np.array_equal(plain(), reference())  # M = 1 is plain random sampling


def test_cks_shifts_similarity_towards_tau():
    """Best-of-M moves the average similarity to the window towards τ = 0.3 compared with M = 1."""

    def mean_similarity(proposals):
        cks = ContrastiveKernelSampler(KernelSampler.prior(4, np.random.default_rng(1)), proposals=proposals)
        window = [kernel_features(cks.base_sampler()) for _ in range(20)]
        for _, f in enumerate(window):
            cks.history.append((None, f, 0.0))
        scores = []
        for _ in range(15):
            k = cks() if proposals > 1 else cks.base_sampler()
            scores.append(similarity(kernel_features(k), window).mean())
        return abs(np.mean(scores) - 0.3)

    assert mean_similarity(8) < mean_similarity(1)
