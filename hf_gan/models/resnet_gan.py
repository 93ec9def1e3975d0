"""Residual generator and discriminator for colour images of 32 px and up (SNGAN, Miyato et al. 2018; BigGAN, Brock et
al. 2019), unconditional or conditioned on a class label.

G: a linear map of the latents to a 4x4 grid, then residual blocks that each double the resolution (BatchNorm, ReLU,
nearest-neighbour upsampling, two 3x3 convolutions, and a 1x1 convolution on the skip path). With `num_classes`,
every BatchNorm takes its scale and shift from the label (class-conditional BatchNorm, de Vries et al. 2017, as in
SNGAN's and BigGAN's conditional generators). D: residual blocks that each halve the resolution by average pooling,
all weights spectrally normalised, a sum over positions, and a linear head; a label enters by projection (Miyato &
Koyama 2018), and `auxiliary_classifier` adds AC-GAN's class head. Widths double per halving of the resolution, up to
8x `base_channels`, as in DCGAN's stacks (hf_gan.models.blocks).

The call signatures are those of the DCGAN networks (G(latents, class_labels), D(images, class_labels,
return_class_logits)), so the training loop, the pipelines and the metrics take either.
"""

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin
from diffusers.configuration_utils import register_to_config
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .blocks import ClassConditionalBatchNorm2d, stack_geometry, stage_widths
from .dcgan import _require_labels
from .modeling_utils import SafetensorsModelMixin


def _check_resolution(sample_size: int) -> int:
    base, stages = stack_geometry(sample_size)
    if base != 4:
        raise ValueError(f"sample_size={sample_size}: the residual networks take powers of two (32, 64, 128...).")
    return stages


class GeneratorBlock(nn.Module):
    """norm, ReLU, 2x upsampling, 3x3 conv, norm, ReLU, 3x3 conv; plus the upsampled input through a 1x1 conv."""

    def __init__(self, c_in: int, c_out: int, num_classes: int | None):
        super().__init__()
        norm = (lambda c: ClassConditionalBatchNorm2d(c, num_classes)) if num_classes else nn.BatchNorm2d
        self.norm1, self.norm2 = norm(c_in), norm(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, norm_args: tuple) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, *norm_args)), scale_factor=2)
        h = self.conv2(F.relu(self.norm2(self.conv1(h), *norm_args)))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class DiscriminatorBlock(nn.Module):
    """(ReLU), 3x3 conv, ReLU, 3x3 conv, 2x average pooling; plus the input through a 1x1 conv and pooling. The first
    block sees raw pixels: no ReLU before its first convolution, and its skip path pools first (SNGAN's
    OptimizedBlock)."""

    def __init__(self, c_in: int, c_out: int, first: bool):
        super().__init__()
        self.first = first
        self.conv1 = spectral_norm(nn.Conv2d(c_in, c_out, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = spectral_norm(nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = F.avg_pool2d(self.conv2(F.relu(h)), 2)
        skip = self.skip(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.skip(x), 2)
        return h + skip


class ResNetGenerator(SafetensorsModelMixin, ConfigMixin):
    """Maps latents z ~ N(0, I) of size `latent_dim` (and a class label if `num_classes`) to images in [-1, 1].

    `class_labels` are class ids (N,) or class weights (N, num_classes) that blend classes, as for DCGANGenerator."""

    @register_to_config
    def __init__(
        self,
        latent_dim: int = 128,
        sample_size: int = 64,
        out_channels: int = 3,
        base_channels: int = 32,
        num_classes: int | None = None,
    ):
        super().__init__()
        widths = stage_widths(base_channels, _check_resolution(sample_size))[::-1]
        self.project = nn.Linear(latent_dim, widths[0] * 16)
        self.blocks = nn.ModuleList(
            GeneratorBlock(c_in, c_out, num_classes) for c_in, c_out in zip(widths, widths[1:] + [widths[-1]])
        )
        self.norm = nn.BatchNorm2d(widths[-1])
        self.to_image = nn.Conv2d(widths[-1], out_channels, 3, padding=1)

    def forward(self, latents: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        num_classes = self.config.num_classes
        _require_labels(class_labels, num_classes, type(self).__name__)
        norm_args = () if class_labels is None else (class_labels,)
        x = self.project(latents).unflatten(1, (-1, 4, 4))
        for block in self.blocks:
            x = block(x, norm_args)
        return torch.tanh(self.to_image(F.relu(self.norm(x))))


class ResNetDiscriminator(SafetensorsModelMixin, ConfigMixin):
    """Scores images (and their class labels if `num_classes`): one logit per image, D(x) = sigmoid(logit); with
    `auxiliary_classifier`, also AC-GAN's class logits (`return_class_logits`)."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 64,
        in_channels: int = 3,
        base_channels: int = 32,
        num_classes: int | None = None,
        auxiliary_classifier: bool = False,
    ):
        super().__init__()
        if auxiliary_classifier and not num_classes:
            raise ValueError("auxiliary_classifier needs num_classes.")
        widths = stage_widths(base_channels, _check_resolution(sample_size))
        self.blocks = nn.Sequential(
            *(
                DiscriminatorBlock(c_in, c_out, i == 0)
                for i, (c_in, c_out) in enumerate(zip([in_channels] + widths, widths))
            )
        )
        self.head = spectral_norm(nn.Linear(widths[-1], 1))
        if num_classes:
            self.class_embedding = spectral_norm(nn.Embedding(num_classes, widths[-1]))
        if auxiliary_classifier:
            self.class_head = spectral_norm(nn.Linear(widths[-1], num_classes))

    def forward(self, images: torch.Tensor, class_labels: torch.Tensor | None = None, return_class_logits=False):
        if return_class_logits and not self.config.auxiliary_classifier:
            raise ValueError("return_class_logits needs a discriminator built with auxiliary_classifier=True.")
        _require_labels(class_labels, self.config.num_classes, type(self).__name__)
        features = F.relu(self.blocks(images)).sum(dim=(2, 3))
        logits = self.head(features).squeeze(1)
        if class_labels is not None:
            logits = logits + (self.class_embedding(class_labels.long()) * features).sum(dim=1)
        if return_class_logits:
            return logits, self.class_head(features)
        return logits
