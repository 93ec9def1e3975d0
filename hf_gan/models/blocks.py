"""Convolutional stacks shared by the generator, the discriminator and the autoencoder.

DCGAN layout (Radford et al. 2015): strided 4x4 convolutions halve the resolution on the way down, transposed 4x4
convolutions double it on the way up. A stack starts (or ends) at 7x7 for 28-pixel images (MNIST) and at 4x4 for
powers of two, so `sample_size` must be 28 or 7 * 2**k, or 4 * 2**k.
"""

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


NORMS = ("batch", "spectral", "none")


def stack_geometry(sample_size: int) -> tuple[int, int]:
    """Returns (base resolution, number of 2x resampling stages) for a square image of `sample_size` pixels."""
    for base in (4, 7):
        stages = math.log2(sample_size / base) if sample_size >= base else -1
        if stages >= 1 and stages == int(stages):
            return base, int(stages)
    raise ValueError(
        f"sample_size={sample_size} is not supported: use 28 (MNIST), 7 * 2**k or a power of two from 8 upwards "
        "(e.g. 32 or 64), and resize your dataset to it."
    )


def stage_widths(base_channels: int, stages: int) -> list[int]:
    """Channel widths from the full-resolution stage to the deepest one: base, 2*base, ... capped at 8*base."""
    return [base_channels * min(2**i, 8) for i in range(stages)]


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r} is not one of {NORMS}.")


class ConvEncoder(nn.Module):
    """Image (N, C, S, S) -> flat features (N, out_features), by strided convolutions with LeakyReLU.

    `extra_layers` 3x3 convolutions (twice as wide) at the lowest resolution widen what each feature sees: at 28 px,
    from a 10x10-pixel patch to 26x26 for the centre one, so a linear head on top no longer just sums local
    evidence."""

    def __init__(self, in_channels: int, sample_size: int, base_channels: int, norm: str, extra_layers: int = 0):
        super().__init__()
        _check_norm(norm)
        base, stages = stack_geometry(sample_size)
        widths = stage_widths(base_channels, stages)
        wrap = _spectral_norm if norm == "spectral" else (lambda layer: layer)
        layers = []
        for i, (c_in, c_out) in enumerate(zip([in_channels] + widths[:-1], widths)):
            layers.append(wrap(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=norm != "batch")))
            # DCGAN: no normalisation on the layer that sees raw pixels.
            if norm == "batch" and i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        extra_widths = [widths[-1]] + [2 * widths[-1]] * extra_layers
        for c_in, c_out in zip(extra_widths, extra_widths[1:]):
            layers += [wrap(nn.Conv2d(c_in, c_out, 3, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
        self.layers = nn.Sequential(*layers, nn.Flatten())
        self.out_features = extra_widths[-1] * base * base

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


class ClassConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017; Miyato & Koyama 2018).

    Float labels (N, num_classes) are class weights: the scale and shift are the weighted mix of the classes'."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Embedding(num_classes, channels)
        self.shift = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, class_labels: torch.Tensor) -> torch.Tensor:
        if class_labels.is_floating_point():
            weights = class_labels.to(self.scale.weight.dtype)
            scale, shift = weights @ self.scale.weight, weights @ self.shift.weight
        else:
            scale, shift = self.scale(class_labels.long()), self.shift(class_labels.long())
        return self.norm(x) * scale[:, :, None, None] + shift[:, :, None, None]


class ConvDecoder(nn.Module):
    """Vector (N, in_features) -> image (N, C, S, S) in [-1, 1], by transposed convolutions with BatchNorm + ReLU.

    With `num_classes`, every BatchNorm takes its scale and shift from the class label (forward's `class_labels`)."""

    def __init__(
        self, in_features: int, out_channels: int, sample_size: int, base_channels: int, num_classes: int | None = None
    ):
        super().__init__()
        base, stages = stack_geometry(sample_size)
        widths = stage_widths(base_channels, stages)[::-1]
        self.project = nn.Sequential(
            nn.Linear(in_features, widths[0] * base * base, bias=False), nn.Unflatten(1, (widths[0], base, base))
        )
        self.convs = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False)
            for c_in, c_out in zip(widths, widths[1:] + [widths[-1]])
        )
        # one norm after the projection and one after each transposed convolution
        norm_widths = [widths[0]] + widths[1:] + [widths[-1]]
        self.norms = nn.ModuleList(
            ClassConditionalBatchNorm2d(c, num_classes) if num_classes else nn.BatchNorm2d(c) for c in norm_widths
        )
        self.to_image = nn.Sequential(nn.Conv2d(widths[-1], out_channels, 3, padding=1), nn.Tanh())

    def forward(self, features: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        norm_args = () if class_labels is None else (class_labels,)
        x = torch.relu(self.norms[0](self.project(features), *norm_args))
        for conv, norm in zip(self.convs, self.norms[1:]):
            x = torch.relu(norm(conv(x), *norm_args))
        return self.to_image(x)
