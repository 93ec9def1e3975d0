"""A small image classifier: the feature extractor of hf_gan's class metrics (FLD, precision/recall) and the judge of
class-conditional accuracy. training/train_classifier.py trains one for any labelled dataset; the MNIST one ships
with the package and is the default for MNIST-shaped data."""

import os

import torch
from diffusers import ConfigMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from ..models.modeling_utils import SafetensorsModelMixin


MNIST_CLASSIFIER_DIR = os.path.join(os.path.dirname(__file__), "mnist_classifier")


def _conv(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ImageClassifier(SafetensorsModelMixin, ConfigMixin):
    """Images (N, C, H, W) with values in [0, 1] -> logits over `num_classes`; `features` gives the penultimate layer.

    The config records what the classifier was trained on (channels, size, class names), so that it is never
    applied to a dataset it does not know."""

    @register_to_config
    def __init__(
        self,
        width: int = 16,
        feature_dim: int = 128,
        num_classes: int = 10,
        in_channels: int = 1,
        sample_size: int = 28,
        mean: float = 0.1307,
        std: float = 0.3081,
        label_names: list[str] | None = None,
        dataset: str | None = None,
    ):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            *_conv(in_channels, w),
            *_conv(w, w),
            nn.MaxPool2d(2),
            *_conv(w, 2 * w),
            *_conv(2 * w, 2 * w),
            nn.MaxPool2d(2),
            *_conv(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * w, feature_dim),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body((images - self.config.mean) / self.config.std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(images)))


def load_classifier(name_or_path: str = MNIST_CLASSIFIER_DIR, **kwargs) -> ImageClassifier:
    """A classifier saved by training/train_classifier.py: a local folder or a Hub repo id."""
    if os.path.isdir(name_or_path) and not os.path.isfile(os.path.join(name_or_path, "config.json")):
        raise FileNotFoundError(f"No classifier in {name_or_path}: train one with training/train_classifier.py.")
    return ImageClassifier.from_pretrained(name_or_path, **kwargs).eval()


def load_mnist_classifier() -> ImageClassifier:
    """The classifier that ships with hf_gan (99.57 % on the MNIST test digits)."""
    return load_classifier(MNIST_CLASSIFIER_DIR)
