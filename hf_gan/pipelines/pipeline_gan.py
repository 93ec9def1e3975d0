"""Unconditional GAN sampling: images = G(z), z ~ N(0, I)."""

import torch
from diffusers.image_processor import PipelineImageInput

from ..models import DCGANDiscriminator, DCGANGenerator, ResNetDiscriminator, ResNetGenerator
from ..models.pix2pix import compose
from .pipeline_utils import HfGanPipeline


class GANPipeline(HfGanPipeline):
    """Samples images from an unconditional GAN generator.

    Args:
        generator: the trained generator G.
        discriminator: optional; kept with the pipeline so training can resume or fine-tune from it, never used to
            sample.
    """

    _optional_components = ["discriminator"]

    def __init__(
        self,
        generator: DCGANGenerator | ResNetGenerator,
        discriminator: DCGANDiscriminator | ResNetDiscriminator | None = None,
    ):
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
        truncation: float = 1.0,
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
            truncation: the truncation trick, psi in [0, 1]: latents are scaled towards the mean, z -> psi * z
                (an InfoGAN code is kept); 1.0 means none, lower gives more typical images and less variety.
            output_type: "pil" (list of PIL images), "np" (N, H, W, C) or "pt" (N, C, H, W), floats in [0, 1].
            return_dict: return an `ImagePipelineOutput` (True) or a tuple.
        """
        self.check_output_type(output_type)
        latents = self.prepare_latents(batch_size, self.generator, generator, latents, truncation)
        return self.postprocess(self.generator(latents), output_type, return_dict)

    def restore(
        self,
        image: PipelineImageInput,
        mask_image: PipelineImageInput | None = None,
        num_steps: int = 200,
        num_restarts: int = 1,
        scale: int = 1,
        prior_weight: float = 1e-3,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """Restores corrupted images without retraining, by searching the latent space for the generated image that
        best matches the known pixels (Bora et al. 2017; Yeh et al. 2017; `HfGanPipeline.search_latents`).

        Args:
            image: the corrupted image(s), as for the image-to-image pipelines: PIL, numpy, torch or a list; of the
                generator's size, or `scale` times smaller (super-resolution: A shrinks G's images by averaging).
            mask_image: white (1) where pixels are missing; they are repainted and the known ones kept. None: every
                pixel is a measurement (e.g. a noisy image), and the output is the generator's image.
            num_steps: Adam steps on the latents.
            num_restarts: latents tried per image (per code value of an
                InfoGAN generator, whose categorical code is searched by trying each), the best kept.
            scale: how many times smaller `image` is than the generator's images (1: the same size).
            prior_weight: weight of the Gaussian prior mean(z^2) against the mean squared error of known pixels.
            generator: a `torch.Generator`, or one per image, for the starting latents.
            output_type: as `__call__`.
            return_dict: as `__call__`.
        """
        self.check_output_type(output_type)
        self.generator.eval()
        image, known, mask = self.restore_inputs(image, mask_image, scale, self.generator)
        config = self.generator.config
        # an InfoGAN's categorical code has no gradient (G takes its argmax): every code value is tried instead
        codes = torch.eye(config.categorical_code).repeat(len(image) * num_restarts, 1).to(image)
        restored = self.search_latents(
            self.generator,
            (lambda latents: self.generator(torch.cat([latents, codes], dim=1))) if len(codes) else self.generator,
            config.latent_dim - config.categorical_code,
            image,
            known,
            max(config.categorical_code, 1) * num_restarts,
            num_steps,
            generator,
            prior_weight=prior_weight,
        )
        return self.postprocess(compose(restored, image, mask), output_type, return_dict)

    def interpolate(
        self,
        start,
        end,
        num_frames: int = 8,
        truncation: float = 1.0,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """`num_frames` images along the spherical path from `start` to `end`, each a seed or a latent vector.

        The ends are the images `__call__` gives for those seeds (`generator=torch.Generator().manual_seed(seed)`)
        or latents. An InfoGAN code cannot be blended: it is the start's for the first half, then the end's.
        """
        latents, _ = self.interpolation_latents(start, end, num_frames, self.generator)
        return self(
            num_frames, latents=latents, truncation=truncation, output_type=output_type, return_dict=return_dict
        )
