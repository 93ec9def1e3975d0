"""A convolutional autoencoder whose decoder doubles as a generator: the first, simple idea of image generation.

A plain autoencoder puts no prior on its codes, so decoding N(0, I) noise gives poor images. We fit a Gaussian to the
codes of the training set after training (`fit_latent_prior`) and sample from it: noise eps ~ N(0, I) becomes the code
mean + L eps, with L the Cholesky factor of the code covariance. The mean and L are buffers, saved with the weights.
"""

import torch
from diffusers import ConfigMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .blocks import ConvDecoder, ConvEncoder
from .modeling_utils import SafetensorsModelMixin


class ConvAutoencoder(SafetensorsModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, latent_dim: int = 16, sample_size: int = 28, channels: int = 1, base_channels: int = 32):
        super().__init__()
        features = ConvEncoder(channels, sample_size, base_channels, norm="batch")
        self.encoder = nn.Sequential(features, nn.Linear(features.out_features, latent_dim))
        self.decoder = ConvDecoder(latent_dim, channels, sample_size, base_channels)
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_scale_tril", torch.eye(latent_dim))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decoder(codes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))

    @torch.no_grad()
    def fit_latent_prior(self, codes: torch.Tensor) -> None:
        """Sets the Gaussian sampling prior to the mean and covariance of `codes` (N, latent_dim), N > latent_dim."""
        codes = codes.double()
        covariance = torch.cov(codes.T) + 1e-5 * torch.eye(codes.shape[1], dtype=codes.dtype, device=codes.device)
        self.latent_mean.copy_(codes.mean(0))
        self.latent_scale_tril.copy_(torch.linalg.cholesky(covariance))

    def noise_to_codes(self, noise: torch.Tensor) -> torch.Tensor:
        return self.latent_mean + noise @ self.latent_scale_tril.T

    def codes_to_noise(self, codes: torch.Tensor) -> torch.Tensor:
        centred = (codes - self.latent_mean).T.float()
        return torch.linalg.solve_triangular(self.latent_scale_tril.float(), centred, upper=False).T.to(codes.dtype)
