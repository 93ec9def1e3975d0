"""Differentiable augmentation (DiffAugment, Zhao et al. 2020): the same random colour, translation and cutout
transforms applied to every image the discriminator sees, real and generated, in D's step and in G's. D then never
sees an un-augmented image, so it cannot memorise a small training set, and since the transforms are differentiable,
G's gradient flows through them. On a few thousand images this is what keeps D from overfitting (the paper's 100-shot
and CIFAR-10 10 % results); `--diffaugment color,translation,cutout` is the paper's recipe.

Randomness comes from a torch.Generator (the training run's checkpointed noise generator), so a resumed run draws the
same transforms as an uninterrupted one. Images are (N, C, H, W) in [-1, 1]; colour transforms touch the first three
channels only, so an alpha channel (RGBA) is translated and cut out with its image but keeps its values.
"""

import torch
import torch.nn.functional as F


def _rand(n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=generator, device=x.device, dtype=x.dtype)


def color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5), per image."""
    rgb, alpha = x[:, :3], x[:, 3:]
    n = len(x)
    rgb = rgb + (_rand(n, x, generator) - 0.5)
    mean = rgb.mean(dim=1, keepdim=True)
    rgb = (rgb - mean) * (_rand(n, x, generator) * 2) + mean
    mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
    rgb = (rgb - mean) * (_rand(n, x, generator) + 0.5) + mean
    return torch.cat([rgb, alpha], dim=1)


def _randint(low: int, high: int, n: int, x: torch.Tensor, generator) -> torch.Tensor:
    return torch.randint(low, high, (n, 1, 1), generator=generator, device=x.device)


def translation(x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = 0.125) -> torch.Tensor:
    """Shifts each image by up to `ratio` of its size in x and y, filling with zeros (mid-grey in [-1, 1])."""
    n, _, h, w = x.shape
    shift_y, shift_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = _randint(-shift_y, shift_y + 1, n, x, generator)
    tx = _randint(-shift_x, shift_x + 1, n, x, generator)
    rows = torch.clamp(torch.arange(h, device=x.device)[None, :, None] + ty + 1, 0, h + 1)
    cols = torch.clamp(torch.arange(w, device=x.device)[None, None, :] + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # out-of-range indices land on the zero border
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = 0.5) -> torch.Tensor:
    """Zeroes a square of `ratio` of the image's size at a random place in each image."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _randint(0, h + (1 - size_y % 2), n, x, generator)
    cx = _randint(0, w + (1 - size_x % 2), n, x, generator)
    top, left = cy - size_y // 2, cx - size_x // 2  # the square may stick out of the image, as in the paper's code
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~inside).unsqueeze(1).to(x.dtype)


TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str | None) -> list[str]:
    """'color,translation,cutout' -> its transform names, checked; None or '' -> []."""
    names = [name.strip() for name in (policy or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise ValueError(f"Unknown DiffAugment transform(s) {unknown}: choose from {', '.join(TRANSFORMS)}.")
    return names


def diff_augment(x: torch.Tensor, policy: list[str], generator: torch.Generator | None = None) -> torch.Tensor:
    """`x` through each transform of `policy` (names from TRANSFORMS), in that order."""
    for name in policy:
        x = TRANSFORMS[name](x, generator)
    return x
