"""The feature encoder f_c of the history-contrastive term (spec §5.4, reading A11).

Default: the frozen image tower of OpenAI CLIP ViT-B/32 through open_clip. Weights are found,
in order, at `clip_checkpoint` (config), $HACBSR_CLIP_CHECKPOINT and the open_clip / Hugging Face
caches; they are never downloaded at run time. When no weights load, encoder="auto" falls
back to a weight-free pixel encoder with a warning, and the result records which one ran;
encoder="clip" raises EncoderUnavailableError instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import HACBSRConfig
from .device import describe_device
from .errors import EncoderUnavailableError

CHECKPOINT_ENV = "HACBSR_CLIP_CHECKPOINT"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
FALLBACK_SIZE = 224
RANDOM_INIT_TAG = "none"  # clip_pretrained="none": random init, for tests; labelled as such


def _as_rgb(x: torch.Tensor) -> torch.Tensor:
    """CLIP sees three channels: replicate gray, average any other channel count."""
    channels = x.shape[1]
    if channels == 3:
        return x
    gray = x if channels == 1 else x.mean(dim=1, keepdim=True)
    return gray.expand(-1, 3, -1, -1)


class _ResizeNormalize(nn.Module):
    mean: torch.Tensor  # (buffers, registered in __init__)
    std: torch.Tensor

    def __init__(self, size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(_as_rgb(x), size=self.size, mode="bicubic", antialias=True, align_corners=False)
        return (x - self.mean) / self.std


class PixelEncoder(nn.Module):
    """Weight-free f_c: the 224² bicubic resize, flattened (a linear map B, as the paper's appendix).

    `clip_scaling=False` (the engine's) keeps [0, 1] pixel units. `clip_scaling=True` is the spec's
    literal fallback (CLIP mean/std normalisation), kept for its test only: its 1/σ² ≈ 14× larger scale makes
    θh·L_con dominate the data term and stalls the fit far below the cubic (notebook 2026-11-25, "The
    weight-free fallback encoder's scale"), so it is no longer a setting (issue 26).
    """

    def __init__(self, clip_scaling: bool = False) -> None:
        super().__init__()
        mean, std = (CLIP_MEAN, CLIP_STD) if clip_scaling else ((0.0,) * 3, (1.0,) * 3)
        self.prep = _ResizeNormalize((FALLBACK_SIZE, FALLBACK_SIZE), mean, std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The resized, normalised pixels as one flat feature vector per image."""
        return self.prep(x).flatten(1)


FALLBACK_NAME = "fallback:pixels-224"  # (the provenance name of every fallback run since `a5f615a`)


class ClipImageEncoder(nn.Module):
    """Frozen CLIP image tower; gradients flow to the input image only."""

    def __init__(
        self,
        visual: nn.Module,
        image_size: tuple[int, int],
        mean: tuple[float, ...],
        std: tuple[float, ...],
    ) -> None:
        super().__init__()
        self.prep = _ResizeNormalize(image_size, mean, std)
        self.visual = visual.eval()
        for p in self.visual.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> ClipImageEncoder:  # stays in eval mode (frozen)
        """Keep the encoder in eval mode whatever `mode` asks (it is frozen)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """CLIP image features of `x` (resized and normalised as CLIP expects)."""
        return self.visual(self.prep(x))  # raw features: the paper's MSE on CLIP features (A11)


@dataclass
class LoadedEncoder:
    """The feature encoder f_c a run uses, with its name and why a fallback was used."""

    module: nn.Module
    name: str  # e.g. "clip:ViT-B-32/openai" or "fallback:pixels-224"
    note: str  # why a fallback was used; "" otherwise

    @property
    def is_fallback(self) -> bool:
        """Whether this is a weight-free fallback encoder, not CLIP."""
        return self.name.startswith("fallback")


def run_labels(device: torch.device, encoder: LoadedEncoder | None) -> dict[str, str]:
    """What a run reports it uses (its setup Step and its Result): the device and the feature encoder."""
    return {
        "device": str(device),
        "device_name": describe_device(device),
        "encoder": encoder.name if encoder else "none",
        "encoder_note": encoder.note if encoder else "",
    }


def describe_encoder(name: str, note: str) -> str:
    """The feature encoder in words, for status lines and the CLI (said once per run)."""
    if name == "none":
        return "Feature encoder: not used (history contrast is off)."
    if name.startswith("clip:"):
        return f"Feature encoder: CLIP {name.removeprefix('clip:')}."
    if note and note != "fallback requested":
        return (
            "Feature encoder: the built-in pixel encoder, because the CLIP weights were not found. For the "
            f"paper's CLIP encoder install napari-hacbsr[clip] and point ${CHECKPOINT_ENV} (or the CLIP "
            "checkpoint option) at a local ViT-B-32 weights file; see the user guide."
        )
    return "Feature encoder: the built-in pixel encoder (as requested)."


def _cached_pretrained(pretrained_cfg: dict) -> str | None:
    """Path of already-downloaded weights for an open_clip pretrained config, without network."""
    hub = pretrained_cfg.get("hf_hub", "")
    if hub:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            pass  # (no huggingface_hub: only the URL cache below)
        else:
            repo_id, filename = os.path.split(hub)  # open_clip's 'org/model/' or 'org/model/file'
            names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
            for name in names:
                hit = try_to_load_from_cache(repo_id, name)
                if isinstance(hit, str) and os.path.isfile(hit):
                    return hit
    url = pretrained_cfg.get("url", "")
    if url:
        local = os.path.join(os.path.expanduser("~/.cache/clip"), os.path.basename(url))
        if os.path.isfile(local):
            return local
    return None


def _find_weights(config: HACBSRConfig) -> str | None:
    """A local weights path, or None for an explicit random init. Raises FileNotFoundError."""
    import open_clip

    explicit = config.clip_checkpoint or os.environ.get(CHECKPOINT_ENV) or None
    if explicit:
        if not os.path.isfile(explicit):
            raise FileNotFoundError(f"CLIP checkpoint {explicit!r} does not exist")
        return explicit
    tag = config.clip_pretrained
    if tag == RANDOM_INIT_TAG:
        return None
    if os.path.isfile(tag):
        return tag
    pretrained_cfg = open_clip.get_pretrained_cfg(config.clip_model, tag)
    if not pretrained_cfg:
        raise FileNotFoundError(f"open_clip knows no pretrained tag {tag!r} for model {config.clip_model!r}")
    cached = _cached_pretrained(pretrained_cfg)
    if cached:
        return cached
    # never downloaded at run time: a run must not depend on the network (nor wait on it)
    raise FileNotFoundError(
        f"CLIP weights {config.clip_model}/{tag} are not in the local cache. Download them once on a "
        f"connected machine, or pass a weights file with clip_checkpoint=... / --clip-checkpoint / ${CHECKPOINT_ENV}"
    )


def _build_clip(config: HACBSRConfig) -> LoadedEncoder:
    try:
        import open_clip
    except ImportError as exc:  # optional dependency
        raise FileNotFoundError("open_clip is not installed (pip install 'napari-hacbsr[clip]')") from exc
    path = _find_weights(config)
    try:
        model = open_clip.create_model(config.clip_model, pretrained=path, device="cpu")
    except Exception as exc:  # noqa: BLE001 - a file that is not these weights fails in many ways (pickle, keys)
        if path is None:
            raise
        raise ValueError(
            f"CLIP checkpoint {path!r} is not an open_clip {config.clip_model} weights file (loading it failed: "
            f"{type(exc).__name__}: {exc}); give the .pt/.bin/.safetensors weights of {config.clip_model}"
        ) from None
    visual = model.visual
    size = getattr(visual, "image_size", (224, 224))
    size = (size, size) if isinstance(size, int) else tuple(size)
    pp = getattr(visual, "preprocess_cfg", None) or {}
    mean, std = tuple(pp.get("mean", CLIP_MEAN)), tuple(pp.get("std", CLIP_STD))
    label = (
        "random-init (not pretrained)"
        if path is None
        else (
            os.path.basename(path)
            if (config.clip_checkpoint or os.path.isfile(config.clip_pretrained) or os.environ.get(CHECKPOINT_ENV))
            else config.clip_pretrained
        )
    )
    encoder = ClipImageEncoder(visual, size, mean, std)
    return LoadedEncoder(encoder, f"clip:{config.clip_model}/{label}", "")


def load_encoder(config: HACBSRConfig, device: torch.device) -> LoadedEncoder | None:
    """The f_c this run uses, on `device`; None when the history contrast is off."""
    if not config.history_enabled:
        return None
    fallback_name = FALLBACK_NAME
    fallback = PixelEncoder()
    if config.encoder == "fallback":
        return LoadedEncoder(fallback.to(device), fallback_name, "fallback requested")
    try:
        loaded = _build_clip(config)
    except Exception as exc:  # noqa: BLE001 - any loading failure decides between fallback and error
        reason = f"{type(exc).__name__}: {exc}"
        if config.encoder == "clip":
            raise EncoderUnavailableError(
                f"encoder='clip' was required but CLIP could not be loaded ({reason}). Use encoder='auto' to "
                f"fall back to the weight-free pixel encoder, or provide the weights."
            ) from exc
        note = f"CLIP weights unavailable, using the weight-free pixel encoder ({reason})"
        return LoadedEncoder(fallback.to(device), fallback_name, note)
    loaded.module.to(device)
    return loaded
