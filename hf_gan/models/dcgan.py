"""DCGAN-style generator and discriminator, unconditional or conditioned on a class label.

Conditioning follows Mirza & Osindero (2014): the generator sees the one-hot label concatenated to its noise (and,
with `class_conditional_norm`, takes the scale and shift of every BatchNorm from the label, which conditions more
strongly). The
discriminator either sees the one-hot label as extra input channels (`conditioning="concat"`, the paper's recipe) or
scores the label against its features with a projection (`conditioning="projection"`, Miyato & Koyama 2018), which
trains faster and is the default. `auxiliary_classifier=True` adds a head that predicts the class from the same
features (AC-GAN, Odena et al. 2017), which the training script can use as an extra, strong conditioning signal.
`extra_layers` deepens the discriminator at its lowest resolution (see ConvEncoder): two such layers cut
the unconditional MNIST GAN's FLD 2.5-fold at equal steps (README), and the MNIST presets use them.
"""

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin
from diffusers.configuration_utils import register_to_config
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .blocks import ConvDecoder, ConvEncoder
from .modeling_utils import SafetensorsModelMixin

CONDITIONINGS = ("projection", "concat")


def _one_hot(class_labels: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    return F.one_hot(class_labels.long(), num_classes).to(dtype)


def _require_labels(class_labels, num_classes, model_name):
    if num_classes and class_labels is None:
        raise ValueError(f"{model_name} is conditional ({num_classes} classes): pass class_labels.")
    if not num_classes and class_labels is not None:
        raise ValueError(f"{model_name} is unconditional: do not pass class_labels.")


class DCGANGenerator(SafetensorsModelMixin, ConfigMixin):
    """Maps latents z ~ N(0, I) of size `latent_dim` (and a class label if `num_classes`) to images in [-1, 1]."""

    @register_to_config
    def __init__(
        self,
        latent_dim: int = 64,
        sample_size: int = 28,
        out_channels: int = 1,
        base_channels: int = 32,
        num_classes: int | None = None,
        class_conditional_norm: bool = False,
    ):
        super().__init__()
        if class_conditional_norm and not num_classes:
            raise ValueError("class_conditional_norm needs num_classes.")
        self.decoder = ConvDecoder(latent_dim + (num_classes or 0), out_channels, sample_size, base_channels,
                                   num_classes if class_conditional_norm else None)

    def forward(self, latents: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        num_classes = self.config.num_classes
        _require_labels(class_labels, num_classes, type(self).__name__)
        if num_classes:
            latents = torch.cat([latents, _one_hot(class_labels, num_classes, latents.dtype)], dim=1)
        return self.decoder(latents, class_labels if self.config.class_conditional_norm else None)


class DCGANDiscriminator(SafetensorsModelMixin, ConfigMixin):
    """Scores images (and their class labels if `num_classes`): returns one logit per image, D(x) = sigmoid(logit)."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 28,
        in_channels: int = 1,
        base_channels: int = 32,
        num_classes: int | None = None,
        conditioning: str = "projection",
        norm: str = "spectral",
        auxiliary_classifier: bool = False,
        extra_layers: int = 0,
    ):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning={conditioning!r} is not one of {CONDITIONINGS}.")
        concat_channels = num_classes if num_classes and conditioning == "concat" else 0
        self.encoder = ConvEncoder(in_channels + concat_channels, sample_size, base_channels, norm, extra_layers)
        wrap = spectral_norm if norm == "spectral" else (lambda layer: layer)
        self.head = wrap(nn.Linear(self.encoder.out_features, 1))
        if num_classes and conditioning == "projection":
            self.class_embedding = wrap(nn.Embedding(num_classes, self.encoder.out_features))
        if auxiliary_classifier:
            if not num_classes:
                raise ValueError("auxiliary_classifier needs num_classes.")
            self.class_head = wrap(nn.Linear(self.encoder.out_features, num_classes))

    def forward(self, images: torch.Tensor, class_labels: torch.Tensor | None = None, return_class_logits: bool = False):
        """One real/fake logit per image; with `return_class_logits`, also the auxiliary classifier's class logits."""
        if return_class_logits and not self.config.auxiliary_classifier:
            raise ValueError("return_class_logits needs a discriminator built with auxiliary_classifier=True.")
        num_classes = self.config.num_classes
        _require_labels(class_labels, num_classes, type(self).__name__)
        if num_classes and self.config.conditioning == "concat":
            size = images.shape[-1]
            label_maps = _one_hot(class_labels, num_classes, images.dtype)[:, :, None, None]
            images = torch.cat([images, label_maps.expand(-1, -1, size, size)], dim=1)
        features = self.encoder(images)
        logits = self.head(features).squeeze(1)
        if num_classes and self.config.conditioning == "projection":
            logits = logits + (self.class_embedding(class_labels.long()) * features).sum(dim=1)
        if return_class_logits:
            return logits, self.class_head(features)
        return logits
