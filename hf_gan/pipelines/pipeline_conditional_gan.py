"""Class-conditional GAN sampling (Mirza & Osindero 2014): images = G(z, y) for the class labels y you ask for."""

import torch

from ..models import DCGANDiscriminator, DCGANGenerator
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
        generator: DCGANGenerator,
        discriminator: DCGANDiscriminator | None = None,
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
            raise ValueError(f"id2label must name each class id 0..{num_classes - 1} once, got ids {sorted(id2label)}.")
        self.register_to_config(id2label=id2label)
        self.labels = {name: i for i, name in id2label.items()}

    @property
    def id2label(self) -> dict[int, str]:
        return {int(i): name for i, name in self.config.id2label.items()}

    def get_label_ids(self, labels: int | str | list[int | str] | torch.Tensor) -> list[int]:
        """Class ids for labels given as ids or names, checked against this pipeline's classes."""
        if isinstance(labels, torch.Tensor):
            if labels.is_floating_point() or labels.dim() > 1:
                raise TypeError(f"class_labels as a tensor must be 0-d or 1-d integers, got {labels.dtype} {tuple(labels.shape)}.")
            labels = labels.reshape(-1).tolist()
        elif isinstance(labels, (int, str)):
            labels = [labels]
        if len(labels) == 0:
            raise ValueError("class_labels is empty: ask for at least one class.")
        ids = []
        for label in labels:
            if isinstance(label, str) and label in self.labels:
                ids.append(self.labels[label])
            elif isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(self.labels):
                ids.append(label)
            else:
                raise ValueError(
                    f"Unknown class label {label!r}: use a class id in 0..{len(self.labels) - 1} or one of the "
                    f"names {list(self.labels)}."
                )
        return ids

    @torch.no_grad()
    def __call__(
        self,
        class_labels: int | str | list[int | str] | torch.Tensor,
        num_images_per_label: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """Generates `num_images_per_label` images for each entry of `class_labels`, in that order.

        Args:
            class_labels: class ids or names (see `id2label`), one or a list, e.g. [3, 3, 7] or ["7"].
            num_images_per_label: images per entry of `class_labels`: [3, 7] with 2 gives 3, 3, 7, 7.
            generator: a `torch.Generator`, or a list with one per image, for reproducible sampling.
            latents: noise of shape (number of images, latent_dim) to use instead of drawing it.
            output_type: "pil" (list of PIL images), "np" (N, H, W, C) or "pt" (N, C, H, W), floats in [0, 1].
            return_dict: return an `ImagePipelineOutput` (True) or a tuple.
        """
        self.check_output_type(output_type)
        if isinstance(num_images_per_label, bool) or not isinstance(num_images_per_label, int) or num_images_per_label < 1:
            raise ValueError(f"num_images_per_label must be a positive integer, got {num_images_per_label!r}.")
        label_ids = torch.tensor(self.get_label_ids(class_labels)).repeat_interleave(num_images_per_label)
        latents = self.prepare_latents(len(label_ids), self.generator, generator, latents)
        label_ids = label_ids.to(latents.device)
        return self.postprocess(self.generator(latents, label_ids), output_type, return_dict)
