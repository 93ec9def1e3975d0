"""Image-to-image translation with an image-conditional GAN (pix2pix, Isola et al. 2017): super-resolution,
inpainting, denoising, or any paired task: images = G(image, mask_image, z)."""

import torch
from diffusers.image_processor import PipelineImageInput

from ..models import PatchGANDiscriminator, UNetGenerator
from ..models.pix2pix import compose
from .pipeline_utils import HfGanPipeline


class ImageToImageGANPipeline(HfGanPipeline):
    """Restores or translates images with a U-Net generator trained against a PatchGAN discriminator.

    Args:
        generator: the trained U-Net G.
        discriminator: optional; kept so training can resume or fine-tune from the pipeline, never used here.
    """

    _optional_components = ["discriminator"]

    def __init__(self, generator: UNetGenerator, discriminator: PatchGANDiscriminator | None = None):
        super().__init__()
        self.register_modules(generator=generator, discriminator=discriminator)

    @torch.no_grad()
    def __call__(
        self,
        image: PipelineImageInput,
        mask_image: PipelineImageInput | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """Restores (or translates) `image`, one output per input image.

        Args:
            image: PIL images, numpy arrays channels last ((H, W, C), (N, H, W, C), or (H, W) for one channel),
                tensors channels first ((C, H, W) or (N, C, H, W)), or a list of them; floats in [0, 1] or uint8.
                Of the generator's `condition_size`, e.g. 7x7 for a x4 super-resolution model of 28x28 digits.
            mask_image: for models trained with masks: white (1) where pixels are to be repainted, black (0) where
                they are kept, as diffusers' inpainting pipelines; one mask for all images or one each. None: no
                pixel is missing (a noisy image is restored as a whole).
            generator: a `torch.Generator`, or a list with one per image, for the latent noise z.
            latents: noise (number of images, latent_dim) to use instead of drawing it.
            output_type: "pil" (list of PIL images), "np" (N, H, W, C) or "pt" (N, C, H, W), floats in [0, 1].
            return_dict: return an `ImagePipelineOutput` (True) or a tuple.
        """
        self.check_output_type(output_type)
        config = self.generator.config
        image = self.images_to_tensor(image, config.condition_size, config.in_channels, self.generator, "image")
        mask = None
        if mask_image is not None:
            if not config.mask_channel:
                raise ValueError(
                    "This model takes no mask_image (it was trained without masks, e.g. for super-resolution or "
                    "denoising): leave mask_image out."
                )
            mask = self.mask_to_tensor(mask_image, len(image), config.sample_size, self.generator)
        latents = self.prepare_latents(len(image), self.generator, generator, latents) if config.latent_dim else None
        self.generator.eval()
        return self.postprocess(compose(self.generator(image, mask, latents), image, mask), output_type, return_dict)
