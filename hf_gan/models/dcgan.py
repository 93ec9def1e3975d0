"""DCGAN-style generator and discriminator, unconditional or conditioned on a class label.

Conditioning follows Mirza & Osindero (2014): the generator sees the one-hot label concatenated to its noise (and,
with `class_conditional_norm`, takes the scale and shift of every BatchNorm from the label, which conditions more
strongly). The discriminator either sees the one-hot label as extra input channels (`conditioning="concat"`, the
paper's recipe) or scores the label against its features with a projection (`conditioning="projection"`, Miyato &
Koyama 2018), which trains faster and is the default. `auxiliary_classifier=True` adds a head that predicts the class
from the same features (AC-GAN, Odena et al. 2017), which the training script can use as an extra, strong
conditioning signal. For an unconditional GAN, `categorical_code` adds InfoGAN's categorical latent code (Chen et
al. 2016) to G, and to D the head that reads it back. `extra_layers` deepens the discriminator at its lowest
resolution (see ConvEncoder): two such layers cut the unconditional MNIST GAN's FLD 2.5-fold at equal steps
(README), and the MNIST presets use them.
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
    """One-hot vectors of integer labels (N,); float labels (N, num_classes), class weights such as a blend of two
    classes, are taken as they are."""
    if class_labels.is_floating_point():
        return class_labels.to(dtype)
    return F.one_hot(class_labels.long(), num_classes).to(dtype)


def _require_labels(class_labels, num_classes, model_name):
    if num_classes and class_labels is None:
        raise ValueError(f"{model_name} is conditional ({num_classes} classes): pass class_labels.")
    if not num_classes and class_labels is not None:
        raise ValueError(f"{model_name} is unconditional: do not pass class_labels.")


class DCGANGenerator(SafetensorsModelMixin, ConfigMixin):
    """Maps latents z ~ N(0, I) of size `latent_dim` (and a class label if `num_classes`) to images in [-1, 1].

    With `categorical_code=K` (InfoGAN, Chen et al. 2016), the last K latent entries pick a categorical code c, their
    argmax (uniform over K values, since they are i.i.d. normal), which G sees one-hot instead of those entries. An
    unconditional GAN trained to make c recoverable from its images (train_gan.py --categorical_code) learns discrete
    modes, such as MNIST's digits, without labels.

    `class_labels` are class ids (N,) or class weights (N, num_classes), e.g. (1 - t) * one_hot(a) + t * one_hot(b)
    to blend two classes: G's label input and its conditional norms' scales and shifts are linear in the one-hot
    label, so weights mix them, and a one-hot row gives exactly that class's image."""

    @register_to_config
    def __init__(
        self,
        latent_dim: int = 64,
        sample_size: int = 28,
        out_channels: int = 1,
        base_channels: int = 32,
        num_classes: int | None = None,
        class_conditional_norm: bool = False,
        categorical_code: int = 0,
    ):
        super().__init__()
        if num_classes and categorical_code:
            raise ValueError("A generator takes a class label (num_classes) or a categorical code, not both.")
        if not 0 <= categorical_code < latent_dim:
            raise ValueError(
                f"categorical_code={categorical_code} must be at least 0 and below latent_dim={latent_dim}."
            )
        if class_conditional_norm and not (num_classes or categorical_code):
            raise ValueError("class_conditional_norm needs num_classes or categorical_code.")
        self.decoder = ConvDecoder(
            latent_dim + (num_classes or 0),
            out_channels,
            sample_size,
            base_channels,
            (num_classes or categorical_code) if class_conditional_norm else None,
        )

    def split_code(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the Gaussian part of `latents`, the categorical code they pick) for a generator with `categorical_code`."""
        size = self.config.categorical_code
        return latents[:, :-size], latents[:, -size:].argmax(1)

    def forward(self, latents: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        num_classes, code_size = self.config.num_classes, self.config.categorical_code
        _require_labels(class_labels, num_classes, type(self).__name__)
        if code_size:  # the code plays the label's part
            latents, class_labels = self.split_code(latents)
            num_classes = code_size
        if num_classes:
            latents = torch.cat([latents, _one_hot(class_labels, num_classes, latents.dtype)], dim=1)
        return self.decoder(latents, class_labels if self.config.class_conditional_norm else None)


class DCGANDiscriminator(SafetensorsModelMixin, ConfigMixin):
    """Scores images (and their class labels if `num_classes`): returns one logit per image, D(x) = sigmoid(logit).

    An auxiliary head on D's features predicts the class (`auxiliary_classifier`, AC-GAN) or a generator's
    categorical code (`categorical_code=K`, InfoGAN's Q network, which shares D's layers as in the paper)."""

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
        categorical_code: int = 0,
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
        if auxiliary_classifier and not num_classes:
            raise ValueError("auxiliary_classifier needs num_classes.")
        if auxiliary_classifier and categorical_code:
            raise ValueError(
                "The auxiliary head predicts the class (auxiliary_classifier) or a categorical code, not both."
            )
        if auxiliary_classifier:
            self.class_head = wrap(nn.Linear(self.encoder.out_features, num_classes))
        if categorical_code:
            self.code_head = wrap(nn.Linear(self.encoder.out_features, categorical_code))

    def forward(
        self,
        images: torch.Tensor,
        class_labels: torch.Tensor | None = None,
        return_class_logits: bool = False,
        return_code_logits: bool = False,
    ):
        """One real/fake logit per image; with `return_class_logits`, also the AC-GAN head's class logits, with
        `return_code_logits`, the InfoGAN head's logits of the generator's categorical code."""
        if return_class_logits and not self.config.auxiliary_classifier:
            raise ValueError("return_class_logits needs a discriminator built with auxiliary_classifier=True.")
        if return_code_logits and not self.config.categorical_code:
            raise ValueError("return_code_logits needs a discriminator built with categorical_code.")
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
        if return_code_logits:
            return logits, self.code_head(features)
        return logits
