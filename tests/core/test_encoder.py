import json
import time

import numpy as np
import pytest
import torch

from napari_hacbsr.core.api import super_resolve
from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.encoder import PixelEncoder, load_encoder
from napari_hacbsr.core.errors import EncoderUnavailableError

from ..helpers import TINY

open_clip = pytest.importorskip("open_clip")
TINY_CLIP = "hacbsr-tiny-test"


@pytest.fixture(scope="module")
def tiny_clip_registered(tmp_path_factory):
    """A tiny open_clip architecture (random init), registered under TINY_CLIP."""
    folder = tmp_path_factory.mktemp("clipcfg")
    cfg = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
        "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 16, "heads": 1, "layers": 1},
    }
    (folder / f"{TINY_CLIP}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(folder)
    return TINY_CLIP


def test_random_init_clip_is_labelled_and_passes_gradients_to_the_image(tiny_clip_registered):
    cfg = HACBSRConfig(encoder="clip", clip_model=TINY_CLIP, clip_pretrained="none")
    loaded = load_encoder(cfg, torch.device("cpu"))
    assert loaded.name == f"clip:{TINY_CLIP}/random-init (not pretrained)" and not loaded.is_fallback
    x = torch.rand(1, 3, 40, 40, requires_grad=True)
    feats = loaded.module(x)
    assert feats.shape == (1, 16)
    feats.pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loaded.module.parameters())
    loaded.module.train()
    assert not loaded.module.visual.training  # frozen encoder stays in eval mode


def test_local_checkpoint_is_loaded_for_real(tiny_clip_registered, tmp_path):
    torch.manual_seed(5)
    model = open_clip.create_model(TINY_CLIP, pretrained=None)
    path = tmp_path / "tiny_clip.pt"
    torch.save(model.state_dict(), path)
    cfg = HACBSRConfig(encoder="clip", clip_model=TINY_CLIP, clip_checkpoint=str(path))
    loaded = load_encoder(cfg, torch.device("cpu"))
    assert loaded.name == f"clip:{TINY_CLIP}/tiny_clip.pt"
    for (name, a), b in zip(model.visual.state_dict().items(), loaded.module.visual.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    x = torch.rand(1, 3, 32, 32)
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model.visual.eval()((x - mean) / std)  # 32² input: the resize is the identity
        assert torch.allclose(loaded.module(x), expected, atol=1e-5)


def test_checkpoint_from_environment_and_end_to_end_run(tiny_clip_registered, tmp_path, monkeypatch, lr_image):
    model = open_clip.create_model(TINY_CLIP, pretrained=None)
    path = tmp_path / "env_clip.pt"
    torch.save(model.state_dict(), path)
    monkeypatch.setenv("HACBSR_CLIP_CHECKPOINT", str(path))
    result = super_resolve(lr_image, 2, **{**TINY, "encoder": "clip", "clip_model": TINY_CLIP, "iterations": 2})
    assert result.encoder == f"clip:{TINY_CLIP}/env_clip.pt" and result.encoder_note == ""
    assert result.losses[0]["contrast"] >= 0 and np.isfinite(result.sr).all()  # (the 1-SSIM phase: TINY's first)


def test_strict_clip_without_weights_fails_fast_with_advice(monkeypatch, tmp_path, lr_image):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HACBSR_CLIP_CHECKPOINT", raising=False)
    t0 = time.perf_counter()
    with pytest.raises(EncoderUnavailableError, match="clip_checkpoint|encoder='auto'"):
        super_resolve(lr_image, 2, **{**TINY, "encoder": "clip"})
    assert time.perf_counter() - t0 < 30


def test_weights_are_never_downloaded_at_run_time(monkeypatch, tmp_path):
    # hub reachable (HF_HUB_OFFLINE unset) and no cached weights: the run must still not touch the network
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("HACBSR_CLIP_CHECKPOINT", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("a run tried to download CLIP weights")

    monkeypatch.setattr(open_clip, "download_pretrained", no_network)
    monkeypatch.setattr("socket.create_connection", no_network)
    with pytest.raises(EncoderUnavailableError, match="not in the local cache"):
        load_encoder(HACBSRConfig(encoder="clip"), torch.device("cpu"))


def test_missing_checkpoint_path_is_an_error_in_strict_mode(tmp_path):
    cfg = HACBSRConfig(encoder="clip", clip_checkpoint=str(tmp_path / "nope.pt"))
    with pytest.raises(EncoderUnavailableError, match="does not exist"):
        load_encoder(cfg, torch.device("cpu"))


def test_fallback_scalings():
    x, y = torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40)
    plain, clipnorm = PixelEncoder(), PixelEncoder(clip_scaling=True)
    ratio = (clipnorm(x) - clipnorm(y)).pow(2).mean() / (plain(x) - plain(y)).pow(2).mean()
    assert 12 < ratio < 16  # 1/σ² of CLIP's std
    # the spec's CLIP-scaled variant lost (notebook 2026-11-25) and is no setting: the fallback is [0, 1] pixels
    assert load_encoder(HACBSRConfig(encoder="fallback"), torch.device("cpu")).name == "fallback:pixels-224"
    with pytest.raises(ValueError, match="unknown HACBSRConfig field"):
        HACBSRConfig.from_dict({"fallback_encoder": "pixels-224-clipnorm"})


def test_pixel_encoder_is_linear_and_224():
    enc = PixelEncoder(clip_scaling=True)
    a, b = torch.rand(1, 3, 50, 50), torch.rand(1, 3, 50, 50)
    assert enc(a).shape == (1, 3 * 224 * 224)
    mean_term = enc(torch.zeros(1, 3, 50, 50))
    assert torch.allclose(enc(a + b) - mean_term, (enc(a) - mean_term) + (enc(b) - mean_term), atol=1e-4)
    assert enc(torch.rand(1, 1, 40, 40)).shape == (1, 3 * 224 * 224)  # gray is replicated
