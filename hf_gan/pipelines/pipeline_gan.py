"""Unconditional GAN sampling: images = G(z), z ~ N(0, I)."""

import torch

from ..models import DCGANDiscriminator, DCGANGenerator
from .pipeline_utils import HfGanPipeline


class GANPipeline(HfGanPipeline):
    """Samples images from an unconditional GAN generator.

    Args:
        generator: the trained generator G.
        discriminator: optional; kept with the pipeline so training can resume or fine-tune from it, never used to
            sample.
    """

    _optional_components = ["discriminator"]

    def __init__(self, generator: DCGANGenerator, discriminator: DCGANDiscriminator | None = None):
        super().__init__()
        self.register_modules(generator=generator, discriminator=discriminator)
        if generator.config.num_classes:
            raise ValueError("This generator is class-conditional: use ConditionalGANPipeline.")

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """Generates `batch_size` images.

        Args:
            batch_size: how many images.
            generator: a `torch.Generator`, or a list with one per image, for reproducible sampling.
            latents: noise of shape (batch_size, latent_dim) to use instead of drawing it (reproducibility,
                interpolation). With an InfoGAN generator (`categorical_code=K`), the argmax of the last K entries
                is the code: set entry latent_dim - K + c highest to ask for code c.
            output_type: "pil" (list of PIL images), "np" (N, H, W, C) or "pt" (N, C, H, W), floats in [0, 1].
            return_dict: return an `ImagePipelineOutput` (True) or a tuple.
        """
        self.check_output_type(output_type)
        latents = self.prepare_latents(batch_size, self.generator, generator, latents)
        return self.postprocess(self.generator(latents), output_type, return_dict)
