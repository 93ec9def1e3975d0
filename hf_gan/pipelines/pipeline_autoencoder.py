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
        """One image or a batch -> a (N, C, S, S) tensor in [-1, 1] on the pipeline's device.

        PIL images; numpy arrays channels last, (H, W, C) or (N, H, W, C), or without the channel axis for one
        channel; tensors channels first, (C, H, W) or (N, C, H, W). Values are floats in [0, 1] or uint8 in 0..255.
        """
        config = self.autoencoder.config
        size, channels = config.sample_size, config.channels
        if isinstance(images, PIL.Image.Image):
            images = [images]
        if isinstance(images, list):
            images = np.stack([np.asarray(image.convert("L" if channels == 1 else "RGB")) for image in images])
        given_shape = tuple(images.shape) if isinstance(images, (np.ndarray, torch.Tensor)) else None
        if isinstance(images, np.ndarray):
            if channels == 1 and images.shape[-2:] == (size, size):
                images = images[..., None]
            images = torch.from_numpy(np.ascontiguousarray(images)).movedim(-1, -3)
        if not isinstance(images, torch.Tensor):
            raise TypeError(
                f"images must be PIL images, a numpy array or a torch.Tensor, got {type(images).__name__}."
            )
        images = images.unsqueeze(0) if images.dim() == 3 else images
        if images.dim() != 4 or tuple(images.shape[1:]) != (channels, size, size):
            raise ValueError(
                f"images must be {size}x{size} with {channels} channel(s): arrays (N, {size}, {size}, {channels}) or "
                f"({size}, {size}, {channels}), tensors (N, {channels}, {size}, {size}) or "
                f"({channels}, {size}, {size}); "
                f"got shape {given_shape}."
            )
        if images.dtype == torch.uint8:
            images = images.float() / 255
        elif not images.is_floating_point():
            raise TypeError(
                f"images must be floats in [0, 1] or uint8 in 0..255, got {images.dtype}: convert them to one."
            )
        elif images.numel() and (images.min() < 0 or images.max() > 1):
            raise ValueError(
                f"float images must be in [0, 1], got values from {images.min().item():g} to {images.max().item():g}: "
                "divide 0..255 values by 255, or pass them as uint8."
            )
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
