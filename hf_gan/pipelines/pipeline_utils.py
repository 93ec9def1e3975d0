"""What the hf_gan pipelines share: a guarded `from_pretrained`, latent sampling and output conversion."""

import json
import os

import numpy as np
import torch
from diffusers import DiffusionPipeline, ImagePipelineOutput
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils.torch_utils import randn_tensor
from huggingface_hub import constants, hf_hub_download
from huggingface_hub.errors import LocalEntryNotFoundError

from .. import models

OUTPUT_TYPES = ("pil", "np", "pt")
# The only component classes an hf_gan model_index.json may name.
MODEL_CLASSES = frozenset(name for name in models.__all__ if name != "SafetensorsModelMixin")
# `from_pretrained` keyword arguments that say where to read model_index.json from.
_DOWNLOAD_KWARGS = ("revision", "cache_dir", "token", "local_files_only", "force_download")


def _read_model_index(pretrained_model_name_or_path, kwargs) -> dict:
    if os.path.isdir(pretrained_model_name_or_path):
        path = os.path.join(pretrained_model_name_or_path, "model_index.json")
        if not os.path.isfile(path):
            raise OSError(f"'{pretrained_model_name_or_path}' is a folder without model_index.json: not a pipeline.")
    else:
        try:
            path = hf_hub_download(
                pretrained_model_name_or_path,
                "model_index.json",
                **{key: kwargs[key] for key in _DOWNLOAD_KWARGS if key in kwargs},
            )
        except LocalEntryNotFoundError as error:
            raise OSError(
                f"Cannot load '{pretrained_model_name_or_path}': the Hub ({constants.ENDPOINT}) could not be reached "
                "and no copy is cached. Check the network and HF_ENDPOINT, or load it once online; afterwards "
                "local_files_only=True (or HF_HUB_OFFLINE=1) loads the cached copy."
            ) from error
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}): the repository is broken.") from error


def check_generator(generator) -> None:
    """A seed is not a generator: say how to make one, rather than fail deep inside torch."""
    generators = generator if isinstance(generator, list) else [generator]
    for item in generators:
        if item is not None and not isinstance(item, torch.Generator):
            example = f"torch.Generator().manual_seed({item})" if isinstance(item, (int, np.integer)) else "torch.Generator().manual_seed(0)"
            raise TypeError(f"generator must be a torch.Generator or a list of them, got {item!r}: pass {example}.")


def check_truncation(truncation) -> None:
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not 0.0 <= truncation <= 1.0:
        raise ValueError(f"truncation must be a number in [0, 1] (1.0: no truncation, 0: the mean latent), got {truncation!r}.")


def slerp(start: torch.Tensor, end: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between two latent vectors (D,) at `weights` (F,) -> (F, D).

    Gaussian latents concentrate near a sphere; a straight line between two of them passes through the less likely
    region near the mean, which gives washed-out images mid-way (White 2016). Nearly parallel ends fall back to
    linear interpolation, where the two agree."""
    start, end, weights = start.double(), end.double(), weights.double()[:, None]
    cosine = torch.dot(start, end) / (start.norm() * end.norm()).clamp_min(1e-12)
    angle = torch.arccos(cosine.clamp(-1, 1))
    if angle.abs() < 1e-4:
        return ((1 - weights) * start + weights * end).float()
    return ((torch.sin((1 - weights) * angle) * start + torch.sin(weights * angle) * end) / torch.sin(angle)).float()


class HfGanPipeline(DiffusionPipeline):
    """Base of the hf_gan pipelines (GANPipeline, ConditionalGANPipeline, AutoencoderPipeline).

    `HfGanPipeline.from_pretrained(repo_or_folder)` loads any of them, by the class its model_index.json names."""

    def __init__(self):
        super().__init__()
        self.image_processor = VaeImageProcessor(do_resize=False, do_normalize=True)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """diffusers' `from_pretrained`, after checking that model_index.json names only hf_gan classes.

        Nothing a repository names is imported before that check passes, and weights load from safetensors only.
        Called on `HfGanPipeline` itself, it loads whichever hf_gan pipeline the repository holds.
        """
        model_index = _read_model_index(str(pretrained_model_name_or_path), kwargs)
        pipeline_name = model_index.get("_class_name")
        if cls is HfGanPipeline:
            pipelines = {subclass.__name__: subclass for subclass in cls.__subclasses__()}
            if pipeline_name not in pipelines:
                raise ValueError(f"'{pretrained_model_name_or_path}' holds a {pipeline_name!r}, not an hf_gan pipeline ({', '.join(sorted(pipelines))}).")
            return pipelines[pipeline_name].from_pretrained(pretrained_model_name_or_path, **kwargs)
        if pipeline_name != cls.__name__:
            raise ValueError(
                f"'{pretrained_model_name_or_path}' holds a {pipeline_name!r}, not a {cls.__name__}: "
                f"load it with that class (hf_gan.{pipeline_name}.from_pretrained)."
            )
        for name, value in model_index.items():
            if name.startswith("_") or not isinstance(value, list):
                continue
            is_hf_gan_model = len(value) == 2 and value[0] == "hf_gan" and value[1] in MODEL_CLASSES
            if value != [None, None] and not is_hf_gan_model:
                raise ValueError(
                    f"Refusing to load '{pretrained_model_name_or_path}': its model_index.json declares component "
                    f"'{name}' as {value}, which is not an hf_gan model ({', '.join(sorted(MODEL_CLASSES))}). "
                    "Nothing was imported. Only load repositories you trust with other tools."
                )
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)

    def check_output_type(self, output_type: str) -> None:
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type={output_type!r} is not supported: use one of {OUTPUT_TYPES}.")

    @staticmethod
    def placement(model: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
        """Device and dtype of `model`, read off one parameter: DiffusionPipeline.device inspects signatures and
        offload hooks on every call, which costs more than sampling a small GAN at batch 1."""
        parameter = next(model.parameters())
        return parameter.device, parameter.dtype

    def prepare_latents(self, batch_size, model, generator, latents, truncation: float = 1.0) -> torch.Tensor:
        """Standard-normal latents (batch_size, model.config.latent_dim) on the model's device and in its dtype,
        drawn in float32 so that a seed gives the same images in any dtype.

        `truncation` (psi in [0, 1]) is the truncation trick: the latents, drawn or passed, are scaled towards the
        prior's mean, z -> psi * z, trading variety for typical, cleaner images; 1.0 leaves them as they are and 0
        gives every image the mean latent. An InfoGAN generator's categorical code (the argmax of the last
        `categorical_code` entries) is left as it is, so that the codes stay uniform under any psi."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        check_generator(generator)
        if isinstance(generator, list) and len(generator) != batch_size:
            raise ValueError(
                f"generator is a list of {len(generator)} generators, but {batch_size} images were requested: "
                "pass one generator per image, or a single one."
            )
        check_truncation(truncation)
        shape = (batch_size, model.config.latent_dim)
        device, dtype = self.placement(model)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
        elif not isinstance(latents, torch.Tensor) or not latents.is_floating_point():
            raise TypeError(f"latents must be a floating-point torch.Tensor, got {type(latents).__name__}.")
        elif tuple(latents.shape) != shape:
            raise ValueError(f"latents must have shape {shape} (batch size, latent_dim), got {tuple(latents.shape)}.")
        if truncation != 1.0:
            gaussian = model.config.latent_dim - getattr(model.config, "categorical_code", 0)
            latents = torch.cat([latents[:, :gaussian] * truncation, latents[:, gaussian:]], dim=1)
        return latents.to(device=device, dtype=dtype)

    def interpolation_latents(self, start, end, num_frames: int, model) -> tuple[torch.Tensor, torch.Tensor]:
        """(num_frames, latent_dim) latents from `start` to `end` by spherical interpolation, and the weights (0 to 1).

        `start` and `end` are each a seed (the latents `__call__` draws for one image with
        `generator=torch.Generator().manual_seed(seed)`) or a latent vector (latent_dim,). An InfoGAN categorical
        code cannot be blended: its entries are the start's for the first half of the frames and the end's after."""
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 2:
            raise ValueError(f"num_frames must be an integer of at least 2 (the two ends), got {num_frames!r}.")
        ends = [self._one_latent(point, name, model) for point, name in ((start, "start"), (end, "end"))]
        weights = torch.linspace(0, 1, num_frames)
        latents = slerp(ends[0], ends[1], weights)
        code_size = getattr(model.config, "categorical_code", 0)
        if code_size:
            latents[:, -code_size:] = torch.where(weights[:, None] < 0.5, ends[0][-code_size:], ends[1][-code_size:])
        return latents, weights

    def _one_latent(self, point, name: str, model) -> torch.Tensor:
        latent_dim = model.config.latent_dim
        if isinstance(point, (int, np.integer)) and not isinstance(point, bool):
            generator = torch.Generator().manual_seed(int(point))
            return randn_tensor((1, latent_dim), generator=generator, device=torch.device("cpu"), dtype=torch.float32)[0]
        if isinstance(point, torch.Tensor) and point.is_floating_point() and point.numel() == latent_dim:
            return point.detach().reshape(latent_dim).float().cpu()
        raise TypeError(f"{name} must be a seed (an integer) or a float tensor of {latent_dim} latents, got {point!r}.")

    def postprocess(self, images: torch.Tensor, output_type: str, return_dict: bool):
        """Generator output in [-1, 1] -> "pil" images, "np" (N, H, W, C) or "pt" (N, C, H, W) float arrays in [0, 1]."""
        images = self.image_processor.postprocess(images, output_type=output_type)
        if output_type == "pt":
            images = images.float()
        if not return_dict:
            return (images,)
        return ImagePipelineOutput(images=images)
