"""Image-conditional generator and discriminator of pix2pix (Isola et al. 2017): G is a U-Net that maps a condition
image to an output image, D a PatchGAN that scores (condition, output) pairs patch by patch.

The condition may be smaller than the output (super-resolution, `condition_size` < `sample_size`): both networks
first enlarge it to `sample_size` (bicubic), so the U-Net's skips carry the enlarged input. With `mask_channel`, the
condition carries one more channel, the mask (1 where pixels are to be repainted, 0 where they are known); masked
pixels of the image are blanked to 0 (mid-grey in [-1, 1]) before G sees them. G also takes a small latent noise
vector, broadcast over its bottleneck, so that a `generator` gives reproducible variation (pix2pix used dropout for
that; an explicit input keeps a batch equal to its images one by one).
"""

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin
from diffusers.configuration_utils import register_to_config
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .blocks import NORMS
from .modeling_utils import SafetensorsModelMixin


def _check_sizes(sample_size: int, condition_size: int, num_down: int) -> None:
    if sample_size % 2**num_down:
        raise ValueError(
            f"sample_size={sample_size} must be divisible by 2**num_down={2**num_down} (e.g. 28 with num_down=2)."
        )
    if condition_size < 1 or sample_size % condition_size:
        raise ValueError(
            f"condition_size={condition_size} must divide sample_size={sample_size} (e.g. 7 for x4 on 28 px)."
        )


def condition_input(
    image: torch.Tensor, mask_image: torch.Tensor | None, sample_size: int, mask_channel: bool
) -> torch.Tensor:
    """The condition as both networks see it: the image (N, C, s, s) in [-1, 1] enlarged to `sample_size`, with
    masked pixels blanked and the mask (N, 1, S, S) appended when `mask_channel`."""
    if image.shape[-1] != sample_size:
        image = F.interpolate(image, size=(sample_size, sample_size), mode="bicubic", align_corners=False)
    if not mask_channel:
        if mask_image is not None:
            raise ValueError("This model takes no mask_image: it was trained without masks.")
        return image
    if mask_image is None:  # nothing to repaint: every pixel is known (e.g. a noisy image)
        mask_image = image.new_zeros(image.shape[0], 1, sample_size, sample_size)
    mask_image = mask_image.to(image.dtype)
    return torch.cat([image * (1 - mask_image), mask_image], dim=1)


def compose(output: torch.Tensor, image: torch.Tensor, mask_image: torch.Tensor | None) -> torch.Tensor:
    """Inpainting keeps the known pixels: `output` where the mask is 1, `image` where it is 0. An image without a
    mask, or whose mask has no pixel to repaint (how a restorer trained on masks and noise marks a noisy image), has
    no pixel to trust as it is: it is `output` throughout."""
    if mask_image is None:
        return output
    mask_image = mask_image.to(output.dtype)
    keep = (1 - mask_image) * mask_image.flatten(1).any(1).to(output.dtype)[:, None, None, None]
    return (1 - keep) * output + keep * image.to(output.dtype)


class UNetGenerator(SafetensorsModelMixin, ConfigMixin):
    """U-Net (Ronneberger et al. 2015) as pix2pix's G: `num_down` strided 4x4 convolutions down, 3x3 convolutions at
    the bottleneck, transposed 4x4 convolutions up, each concatenated with the encoder's features of its resolution.
    Output in [-1, 1] (tanh), `out_channels` x `sample_size` x `sample_size`."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 28,
        in_channels: int = 1,
        out_channels: int = 1,
        condition_size: int = 28,
        mask_channel: bool = False,
        base_channels: int = 32,
        num_down: int = 2,
        latent_dim: int = 8,
    ):
        super().__init__()
        _check_sizes(sample_size, condition_size, num_down)
        widths = [base_channels * min(2**i, 8) for i in range(num_down + 1)]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels + int(mask_channel), widths[0], 3, padding=1), nn.LeakyReLU(0.2, inplace=True)
        )
        self.downs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, inplace=True),
            )
            for c_in, c_out in zip(widths, widths[1:])
        )
        self.bottleneck = nn.Sequential(
            nn.Conv2d(widths[-1] + latent_dim, widths[-1], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[-1]),
            nn.ReLU(inplace=True),
        )
        # up path: from the bottleneck (+ the skip of its resolution) to the next resolution up
        self.ups = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose2d(2 * c_in, c_out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            )
            for c_in, c_out in zip(widths[::-1], widths[::-1][1:])
        )
        self.to_image = nn.Sequential(nn.Conv2d(2 * widths[0], out_channels, 3, padding=1), nn.Tanh())

    def forward(
        self, image: torch.Tensor, mask_image: torch.Tensor | None = None, latents: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`image` (N, in_channels, condition_size, condition_size) in [-1, 1]; `mask_image` (N, 1, S, S), 1 where
        to repaint (models with `mask_channel`); `latents` (N, latent_dim), zeros if None."""
        config = self.config
        x = condition_input(image, mask_image, config.sample_size, config.mask_channel)
        skips = [self.stem(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        h = skips[-1]
        if config.latent_dim:
            if latents is None:
                latents = h.new_zeros(h.shape[0], config.latent_dim)
            h = torch.cat([h, latents.to(h.dtype)[:, :, None, None].expand(-1, -1, *h.shape[-2:])], dim=1)
        h = self.bottleneck(h)
        for up, skip in zip(self.ups, skips[::-1]):
            h = up(torch.cat([h, skip], dim=1))
        return self.to_image(torch.cat([h, skips[0]], dim=1))


class PatchGANDiscriminator(SafetensorsModelMixin, ConfigMixin):
    """pix2pix's D: scores (condition, image) pairs, one logit per overlapping patch (N, 1, P, P), D = sigmoid.

    It sees the condition (enlarged, masked and with its mask as G sees it) concatenated with the image, so that it
    judges whether the output fits its input, not only whether it looks real."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 28,
        in_channels: int = 1,
        out_channels: int = 1,
        condition_size: int = 28,
        mask_channel: bool = False,
        base_channels: int = 32,
        num_down: int = 2,
        norm: str = "spectral",
    ):
        super().__init__()
        _check_sizes(sample_size, condition_size, num_down)
        if norm not in NORMS:
            raise ValueError(f"norm={norm!r} is not one of {NORMS}.")
        wrap = spectral_norm if norm == "spectral" else (lambda layer: layer)
        widths = [base_channels * min(2**i, 8) for i in range(num_down)]
        layers, c_in = [], in_channels + int(mask_channel) + out_channels
        for i, c_out in enumerate(widths):
            layers.append(wrap(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=norm != "batch")))
            if norm == "batch" and i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c_out
        layers += [wrap(nn.Conv2d(c_in, 2 * c_in, 3, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
        layers.append(wrap(nn.Conv2d(2 * c_in, 1, 3, padding=1)))
        self.layers = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, output: torch.Tensor, mask_image: torch.Tensor | None = None):
        """Patch logits of `output` (N, out_channels, S, S) given its condition `image` (and `mask_image`)."""
        condition = condition_input(image, mask_image, self.config.sample_size, self.config.mask_channel)
        return self.layers(torch.cat([condition, output], dim=1))
