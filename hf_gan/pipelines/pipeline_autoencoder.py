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
        """PIL images, or arrays/tensors with values in [0, 1] ((N,) H, W, C for numpy; (N,) C, H, W for torch) ->
        a (N, C, S, S) tensor in [-1, 1] on the pipeline's device."""
        config = self.autoencoder.config
        if isinstance(images, PIL.Image.Image):
            images = [images]
        if isinstance(images, list):
            mode = "L" if config.channels == 1 else "RGB"
            images = np.stack([np.asarray(image.convert(mode), dtype=np.float32) / 255.0 for image in images])
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(np.asarray(images, dtype=np.float32))
            images = images[..., None] if images.dim() == 3 and config.channels == 1 else images
            images = images.unsqueeze(0) if images.dim() == 3 else images
            images = images.permute(0, 3, 1, 2)
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"images must be PIL images, a numpy array or a torch.Tensor, got {type(images).__name__}.")
        images = images.unsqueeze(0) if images.dim() == 3 else images
        expected = (config.channels, config.sample_size, config.sample_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"images must be (N, {', '.join(map(str, expected))}) (channels first), got {tuple(images.shape)}.")
        device, dtype = self.placement(self.autoencoder)
        return images.to(device=device, dtype=dtype) * 2 - 1

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
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """Generates `batch_size` new images by decoding samples of the fitted latent prior.

        Args:
            batch_size: how many images.
            generator: a `torch.Generator`, or a list with one per image, for reproducible sampling.
            latents: whitened latents (batch_size, latent_dim), e.g. from `encode`, instead of drawing them.
            output_type: "pil" (list of PIL images), "np" (N, H, W, C) or "pt" (N, C, H, W), floats in [0, 1].
            return_dict: return an `ImagePipelineOutput` (True) or a tuple.
        """
        self.check_output_type(output_type)
        latents = self.prepare_latents(batch_size, self.autoencoder, generator, latents)
        images = self.autoencoder.decode(self.autoencoder.noise_to_codes(latents))
        return self.postprocess(images, output_type, return_dict)
