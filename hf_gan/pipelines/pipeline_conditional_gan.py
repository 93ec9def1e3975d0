"""Class-conditional GAN sampling (Mirza & Osindero 2014): images = G(z, y) for the class labels y you ask for."""

import numpy as np
import torch
from diffusers.image_processor import PipelineImageInput

from ..models import DCGANDiscriminator, DCGANGenerator, ResNetDiscriminator, ResNetGenerator
from ..models.pix2pix import compose
from .pipeline_utils import HfGanPipeline


class ConditionalGANPipeline(HfGanPipeline):
    """Samples images of requested classes from a class-conditional generator.

    Args:
        generator: the trained class-conditional generator G.
        discriminator: optional; kept so training can resume or fine-tune from the pipeline, never used to sample.
        id2label: class names by class id, saved with the pipeline (defaults to "0", "1", ...).
    """

    _optional_components = ["discriminator"]

    def __init__(
        self,
        generator: DCGANGenerator | ResNetGenerator,
        discriminator: DCGANDiscriminator | ResNetDiscriminator | None = None,
        id2label: dict | None = None,
    ):
        super().__init__()
        self.register_modules(generator=generator, discriminator=discriminator)
        num_classes = generator.config.num_classes
        if not num_classes:
            raise ValueError("This generator is unconditional: use GANPipeline.")
        # JSON turns the integer keys into strings; normalise both forms.
        id2label = {int(i): str(name) for i, name in (id2label or {i: str(i) for i in range(num_classes)}).items()}
        if sorted(id2label) != list(range(num_classes)):
            raise ValueError(
                f"id2label must name each class id 0..{num_classes - 1} once, got ids {sorted(id2label)}."
            )
        self.register_to_config(id2label=id2label)
        self.labels = {name: i for i, name in id2label.items()}

    @property
    def id2label(self) -> dict[int, str]:
        return {int(i): name for i, name in self.config.id2label.items()}

    def get_label_ids(self, labels: int | str | list[int | str] | torch.Tensor | np.ndarray) -> list[int]:
        """Class ids for labels given as ids or names (one, a list, or an integer tensor or numpy array), checked
        against this pipeline's classes."""
        names = list(self.labels)
        if labels is None:
            raise ValueError(
                f"class_labels is required: class ids in 0..{len(names) - 1} or names from {names}, "
                "e.g. class_labels=[0]."
            )
        if isinstance(labels, (torch.Tensor, np.ndarray)):
            is_integer = (
                not labels.is_floating_point()
                if isinstance(labels, torch.Tensor)
                else np.issubdtype(labels.dtype, np.integer)
            )
            if not is_integer or labels.ndim > 1:
                raise TypeError(
                    f"class_labels as a {type(labels).__name__} must be 0-d or 1-d integers (class ids), got "
                    f"{labels.dtype} {tuple(labels.shape)}; class weights are not class labels."
                )
            labels = labels.reshape(-1).tolist()
        elif isinstance(labels, (int, str, float, np.generic)):
            labels = [labels]
        elif not isinstance(labels, (list, tuple)):
            raise TypeError(
                f"class_labels must be a class id or name, or a list, tensor or array of them; got {labels!r}."
            )
        if len(labels) == 0:
            raise ValueError("class_labels is empty: ask for at least one class.")
        ids = []
        for label in labels:
            if isinstance(label, str) and label in self.labels:
                ids.append(self.labels[label])
            elif isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= label < len(names):
                ids.append(int(label))
            else:
                hint = " (class ids are integers)" if isinstance(label, float) else ""
                raise ValueError(
                    f"Unknown class label {label!r}{hint}: use a class id in 0..{len(names) - 1} "
                    f"or one of the names {names}."
                )
        return ids

    @torch.no_grad()
    def __call__(
        self,
        class_labels: int | str | list[int | str] | torch.Tensor,
        num_images_per_label: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        truncation: float = 1.0,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """Generates `num_images_per_label` images for each entry of `class_labels`, in that order.

        Args:
            class_labels: class ids or names (see `id2label`), one or a list, e.g. [3, 3, 7] or ["7"].
            num_images_per_label: images per entry of `class_labels`: [3, 7] with 2 gives 3, 3, 7, 7.
            generator: a `torch.Generator`, or a list with one per image, for reproducible sampling.
            latents: noise of shape (number of images, latent_dim) to use instead of drawing it.
            truncation: the truncation trick, psi in [0, 1]: latents are scaled towards the mean, z -> psi * z; 1.0
                means none, lower gives more typical images of each class and less variety.
            output_type: "pil" (list of PIL images), "np" (N, H, W, C) or "pt" (N, C, H, W), floats in [0, 1].
            return_dict: return an `ImagePipelineOutput` (True) or a tuple.
        """
        self.check_output_type(output_type)
        if (
            isinstance(num_images_per_label, bool)
            or not isinstance(num_images_per_label, int)
            or num_images_per_label < 1
        ):
            raise ValueError(f"num_images_per_label must be a positive integer, got {num_images_per_label!r}.")
        label_ids = torch.tensor(self.get_label_ids(class_labels)).repeat_interleave(num_images_per_label)
        latents = self.prepare_latents(len(label_ids), self.generator, generator, latents, truncation)
        label_ids = label_ids.to(latents.device)
        return self.postprocess(self.generator(latents, label_ids), output_type, return_dict)

    def restore(
        self,
        image: PipelineImageInput,
        mask_image: PipelineImageInput | None = None,
        class_labels: int | str | list[int | str] | torch.Tensor | None = None,
        num_steps: int = 200,
        num_restarts: int = 1,
        scale: int = 1,
        prior_weight: float = 1e-3,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """Restores corrupted images without retraining, by searching the latent space (and the class) for the
        generated image that best matches the known pixels (Bora et al. 2017; Yeh et al. 2017;
        `HfGanPipeline.search_latents`).

        Args:
            image: the corrupted image(s), as for the image-to-image pipelines: PIL, numpy, torch or a list; of the
                generator's size, or `scale` times smaller (super-resolution: A shrinks G's images by averaging).
            mask_image: white (1) where pixels are missing; they are repainted and the known ones kept. None: every
                pixel is a measurement (e.g. a noisy image), and the output is the generator's image.
            class_labels: the images' classes (one, or one per image) if known; None tries every class, each with
                `num_restarts` latents, and keeps the best match.
            num_steps: Adam steps on the latents.
            num_restarts: latents tried per image (per class when
                class_labels is None), the best kept.
            scale: how many times smaller `image` is than the generator's images (1: the same size).
            prior_weight: weight of the Gaussian prior mean(z^2) against the mean squared error of known pixels.
            generator: a `torch.Generator`, or one per image, for the starting latents.
            output_type: as `__call__`.
            return_dict: as `__call__`.
        """
        self.check_output_type(output_type)
        self.generator.eval()
        image, known, mask = self.restore_inputs(image, mask_image, scale, self.generator)
        count = len(image)
        if class_labels is None:
            per_image = torch.arange(len(self.labels)).repeat(count, 1)
        else:
            ids = torch.tensor(self.get_label_ids(class_labels))
            if len(ids) not in (1, count):
                raise ValueError(f"class_labels holds {len(ids)} labels for {count} images: pass one, or one each.")
            per_image = ids.expand(count)[:, None]
        labels = per_image.repeat_interleave(num_restarts, 1).reshape(-1).to(image.device)
        restored = self.search_latents(
            self.generator,
            lambda latents: self.generator(latents, labels),
            self.generator.config.latent_dim,
            image,
            known,
            per_image.shape[1] * num_restarts,
            num_steps,
            generator,
            prior_weight=prior_weight,
        )
        return self.postprocess(compose(restored, image, mask), output_type, return_dict)

    @torch.no_grad()
    def interpolate(
        self,
        start,
        end,
        class_labels,
        num_frames: int = 8,
        truncation: float = 1.0,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """`num_frames` images along the spherical path from `start` to `end`, each a seed or a latent vector.

        `class_labels` is one class, fixed along the path, or two: the label is then blended from the first to the
        second with the latents' weights (the generator takes class weights). The ends are the images `__call__`
        gives for those seeds (`generator=torch.Generator().manual_seed(seed)`) and classes.
        """
        label_ids = self.get_label_ids(class_labels)
        if len(label_ids) > 2:
            raise ValueError(
                "class_labels must be one class (fixed) or two (blended from the first to the second), "
                f"got {len(label_ids)}."
            )
        latents, weights = self.interpolation_latents(start, end, num_frames, self.generator)
        latents = self.prepare_latents(num_frames, self.generator, None, latents, truncation)
        one_hot = torch.nn.functional.one_hot(torch.tensor(label_ids), len(self.labels)).float()
        class_weights = torch.lerp(one_hot[0], one_hot[-1], weights[:, None]).to(latents)
        return self.postprocess(self.generator(latents, class_weights), output_type, return_dict)
