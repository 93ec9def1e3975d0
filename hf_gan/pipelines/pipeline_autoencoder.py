"""An autoencoder's decoder used as a generator, plus encode / reconstruct helpers.

Latent prior: after training, a Gaussian N(mean, L L^T) is fitted to the codes of the training images and stored
in the model (`ConvAutoencoder.fit_latent_prior`). Sampling draws eps ~ N(0, I) and decodes mean + L eps, so the
`latents` this pipeline takes and `encode` returns live in that whitened, standard-normal space: `encode` followed by
`__call__(latents=...)` reconstructs, and interpolating between two encodings stays on the data's code distribution.
"""

import numpy as np
import PIL.Image
import torch

from ..models import ConvAutoencoder
from .pipeline_utils import HfGanPipeline


ImageInput = PIL.Image.Image | list[PIL.Image.Image] | np.ndarray | torch.Tensor


class AutoencoderPipeline(HfGanPipeline):
    """Samples new images from an autoencoder's decoder, and encodes or reconstructs images."""

    def __init__(self, autoencoder: ConvAutoencoder):
        super().__init__()
        self.register_modules(autoencoder=autoencoder)

    def _images_to_tensor(self, images: ImageInput) -> torch.Tensor:
        config = self.autoencoder.config
        return self.images_to_tensor(images, config.sample_size, config.channels, self.autoencoder)

    @torch.no_grad()
    def encode(self, images: ImageInput) -> torch.Tensor:
        """Whitened latents (N, latent_dim) of `images`, the space `__call__(latents=...)` decodes from."""
        return self.autoencoder.codes_to_noise(self.autoencoder.encode(self._images_to_tensor(images)))

    @torch.no_grad()
    def reconstruct(self, images: ImageInput, output_type: str = "pil", return_dict: bool = True):
        """Encodes and decodes `images`; returns them as `__call__` does."""
        self.check_output_type(output_type)
        return self.postprocess(self.autoencoder(self._images_to_tensor(images)), output_type, return_dict)

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        truncation: float = 1.0,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """Generates `batch_size` new images by decoding samples of the fitted latent prior.

        Args:
            batch_size: how many images.
            generator: a `torch.Generator`, or a list with one per image, for reproducible sampling.
            latents: whitened latents (batch_size, latent_dim), e.g. from `encode`, instead of drawing them.
            truncation: psi in [0, 1]: the whitened latents are scaled towards the prior's mean, eps -> psi * eps,
                so codes move towards the mean training code; 1.0 means none, 0 decodes the mean code.
            output_type: "pil" (list of PIL images), "np" (N, H, W, C) or "pt" (N, C, H, W), floats in [0, 1].
            return_dict: return an `ImagePipelineOutput` (True) or a tuple.
        """
        self.check_output_type(output_type)
        latents = self.prepare_latents(batch_size, self.autoencoder, generator, latents, truncation)
        images = self.autoencoder.decode(self.autoencoder.noise_to_codes(latents))
        return self.postprocess(images, output_type, return_dict)

    def interpolate(
        self,
        start,
        end,
        num_frames: int = 8,
        truncation: float = 1.0,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """`num_frames` images along the spherical path from `start` to `end` in the whitened latent space, each
        a seed (the image `__call__` gives with `generator=torch.Generator().manual_seed(seed)`) or a latent
        vector, e.g. `encode(image)[0]` to morph between two real images."""
        latents, _ = self.interpolation_latents(start, end, num_frames, self.autoencoder)
        return self(
            num_frames, latents=latents, truncation=truncation, output_type=output_type, return_dict=return_dict
        )
