"""A small MNIST classifier: the feature extractor of hf_gan's metrics (FLD, precision/recall) and the judge of
class-conditional accuracy. Trained by training/train_classifier.py; its weights ship with the package."""

import os

import torch
from diffusers import ConfigMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from ..models.modeling_utils import SafetensorsModelMixin

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "mnist_classifier")
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _conv(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class MNISTClassifier(SafetensorsModelMixin, ConfigMixin):
    """Images (N, 1, 28, 28) with values in [0, 1] -> logits over 10 digits; `features` gives the penultimate layer."""

    @register_to_config
    def __init__(self, width: int = 16, feature_dim: int = 128, num_classes: int = 10):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            *_conv(1, w), *_conv(w, w), nn.MaxPool2d(2),
            *_conv(w, 2 * w), *_conv(2 * w, 2 * w), nn.MaxPool2d(2),
            *_conv(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(4 * w, feature_dim), nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body((images - MNIST_MEAN) / MNIST_STD)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(images)))


def load_mnist_classifier(path: str = WEIGHTS_DIR) -> MNISTClassifier:
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise FileNotFoundError(f"No MNIST classifier at {path}: train one with training/train_classifier.py.")
    return MNISTClassifier.from_pretrained(path).eval()
