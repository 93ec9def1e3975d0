"""What the hf_gan pipelines share: loading and saving without code from the repository, latent sampling and output
conversion.

A saved pipeline follows diffusers' convention for custom code on the Hub: model_index.json names its pipeline and
components as ["hf_gan_code", "<class>"], and the folder and each component folder hold hf_gan_code.py, hf_gan's
model and pipeline source files joined into one module. So `diffusers.DiffusionPipeline.from_pretrained(repo,
trust_remote_code=True)` loads it without hf_gan installed, while hf_gan's own `from_pretrained` reads only the JSON
and safetensors files and builds this installation's classes.
"""

import importlib
import json
import os
import re
import time
import typing
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from diffusers import DiffusionPipeline, ImagePipelineOutput, ModelMixin
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils.torch_utils import randn_tensor
from huggingface_hub import HfApi, constants, snapshot_download
from huggingface_hub.utils import (
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    validate_repo_id,
)


OUTPUT_TYPES = ("pil", "np", "pt")
CODE_MODULE = "hf_gan_code"
# hf_gan's source files joined, in this order, into the CODE_MODULE file a saved pipeline carries (paths relative to
# the hf_gan package). One file, because diffusers downloads only the named module file of a component folder.
CODE_SOURCES = (
    "models/modeling_utils.py",
    "models/blocks.py",
    "models/dcgan.py",
    "models/resnet_gan.py",
    "models/autoencoder.py",
    "models/pix2pix.py",
    "pipelines/pipeline_utils.py",
    "pipelines/pipeline_gan.py",
    "pipelines/pipeline_conditional_gan.py",
    "pipelines/pipeline_autoencoder.py",
    "pipelines/pipeline_image_to_image_gan.py",
)
CODE_HEADER = (
    "# hf_gan's networks and pipelines (hf_gan/models and hf_gan/pipelines, joined into one module by\n"
    "# HfGanPipeline.save_pretrained), so that diffusers loads this repository without hf_gan installed:\n"
    "# DiffusionPipeline.from_pretrained(repo, trust_remote_code=True). hf_gan's own from_pretrained never runs it.\n"
)
# Relative imports between the joined files, which the joined module does without.
RELATIVE_IMPORT = re.compile(r"^from \.[\w.]* import (\([^)]*\)|[^\n]*)\n", re.MULTILINE)
# What hf_gan downloads of a repository: configs and weights, never code or pickles.
DOWNLOAD_PATTERNS = ["*.json", "*.safetensors"]
DOWNLOAD_OPTIONS = ("revision", "cache_dir", "token", "local_files_only", "force_download")


def _network_errors() -> tuple[type[Exception], ...]:
    """Errors of an unreachable or silent Hub, from whichever HTTP library this huggingface_hub uses (httpx2, httpx
    or requests; imported by name so that diffusers' import check of this module asks for none of them)."""
    errors = []
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "RequestException")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except ImportError:
            pass
    return tuple(errors)


NETWORK_ERRORS = _network_errors()


def hub_repo_info(repo_id: str, revision: str | None = None, token=None, repo_type: str | None = None):
    """The repository's info, or None when the Hub cannot be reached (tried twice, each within
    HF_HUB_ETAG_TIMEOUT seconds); errors the Hub answers with (no such repository or revision) propagate."""
    for attempt in range(2):
        try:
            return HfApi().repo_info(
                repo_id, revision=revision, token=token, repo_type=repo_type, timeout=constants.HF_HUB_ETAG_TIMEOUT
            )
        except HfHubHTTPError:
            raise
        except NETWORK_ERRORS:
            if attempt == 0:
                time.sleep(1)
    return None


def repository_code() -> str:
    """The text of the CODE_MODULE file a saved pipeline carries."""
    if __name__ != "hf_gan.pipelines.pipeline_utils":  # this is a repository's copy of it: save that copy again
        return Path(__file__).read_text(encoding="utf-8")
    package = Path(__file__).resolve().parents[1]
    sources = [RELATIVE_IMPORT.sub("", (package / source).read_text(encoding="utf-8")) for source in CODE_SOURCES]
    return CODE_HEADER + "\n\n".join(sources)


def _pipeline_folder(name: str, options: dict) -> str:
    """A local folder as it is; a Hub repo id downloaded (JSON and safetensors only) to the cache."""
    if os.path.isdir(name):
        return name
    try:
        validate_repo_id(name)
    except HFValidationError:
        raise OSError(f"No folder '{name}' exists (looked for {os.path.abspath(name)}).") from None
    not_here = f"No folder '{name}' exists here ({os.getcwd()}), so it was looked up as a Hub repository"
    offline = options.get("local_files_only") or constants.HF_HUB_OFFLINE
    try:
        if not offline and hub_repo_info(name, options.get("revision"), options.get("token")) is None:
            offline = "unreachable"
        return snapshot_download(
            name,
            allow_patterns=DOWNLOAD_PATTERNS,
            etag_timeout=constants.HF_HUB_ETAG_TIMEOUT,
            **{**options, "local_files_only": bool(offline)},
        )
    except RepositoryNotFoundError as error:
        raise OSError(
            f"{not_here}, and {constants.ENDPOINT} has no repository '{name}' (or it is private: pass token=)."
        ) from error
    except LocalEntryNotFoundError as error:
        why = (
            f"the Hub ({constants.ENDPOINT}) could not be reached"
            if offline == "unreachable"
            else "local_files_only=True (or HF_HUB_OFFLINE=1) was asked for"
        )
        raise OSError(
            f"{not_here}: {why}, and no copy of it is cached. Check the network and HF_ENDPOINT, or load "
            "it once online; afterwards local_files_only=True (or HF_HUB_OFFLINE=1) loads the cached copy."
        ) from error


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise OSError(
            f"'{os.path.dirname(path)}' is a folder without model_index.json: not a saved pipeline."
        ) from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}): the repository is broken.") from error


def check_generator(generator) -> None:
    """A seed is not a generator: say how to make one, rather than fail deep inside torch."""
    generators = generator if isinstance(generator, list) else [generator]
    for item in generators:
        if item is not None and not isinstance(item, torch.Generator):
            example = (
                f"torch.Generator().manual_seed({item})"
                if isinstance(item, (int, np.integer))
                else "torch.Generator().manual_seed(0)"
            )
            raise TypeError(f"generator must be a torch.Generator or a list of them, got {item!r}: pass {example}.")


def check_truncation(truncation) -> None:
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not 0.0 <= truncation <= 1.0:
        raise ValueError(
            f"truncation must be a number in [0, 1] (1.0: no truncation, 0: the mean latent), got {truncation!r}."
        )


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
    """Base of the hf_gan pipelines (GANPipeline, ConditionalGANPipeline, AutoencoderPipeline,
    ImageToImageGANPipeline).

    `HfGanPipeline.from_pretrained(repo_or_folder)` loads any of them, by the class its model_index.json names."""

    def __init__(self):
        super().__init__()
        self.image_processor = VaeImageProcessor(do_resize=False, do_normalize=True)

    @classmethod
    def component_types(cls) -> dict[str, tuple[type, ...]]:
        """The model classes each component may be, as the pipeline's __init__ declares them (a generator may be
        a DCGANGenerator or a ResNetGenerator)."""
        types = {}
        for name, hint in typing.get_type_hints(cls.__init__).items():
            options = [
                o for o in typing.get_args(hint) or (hint,) if isinstance(o, type) and issubclass(o, ModelMixin)
            ]
            if options:
                types[name] = tuple(options)
        return types

    def register_modules(self, **modules):
        """diffusers' register_modules, refusing any component that is not the model class __init__ declares, so
        that no loader builds an hf_gan pipeline around another model."""
        expected = self.component_types()
        for name, module in modules.items():
            if module is not None and name in expected and not isinstance(module, expected[name]):
                raise TypeError(
                    f"{type(self).__name__}'s {name} must be a {' or '.join(c.__name__ for c in expected[name])}, got "
                    f"{type(module).__module__}.{type(module).__name__}."
                )
        super().register_modules(**modules)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """Loads a saved hf_gan pipeline from a folder or Hub repo id, running no code from it.

        model_index.json must name an hf_gan pipeline and, for each component, the model class that pipeline
        declares (as ["hf_gan_code", "<class>"], or ["hf_gan", "<class>"] as older versions wrote it); weights load
        from safetensors only into this installation's classes. Called on HfGanPipeline itself, it loads whichever
        pipeline the repository holds.

        Keyword arguments: revision, cache_dir, token, local_files_only, force_download (Hub downloads); dtype (or
        torch_dtype); a component by name (e.g. discriminator=None) to use instead of the saved one.
        """
        name = str(pretrained_model_name_or_path)
        if kwargs.pop("use_safetensors", True) is False:
            raise ValueError("hf_gan loads safetensors weights only: drop use_safetensors=False.")
        dtype = kwargs.pop("dtype", None) or kwargs.pop("torch_dtype", None)
        folder = _pipeline_folder(name, {key: kwargs.pop(key) for key in DOWNLOAD_OPTIONS if key in kwargs})
        model_index = _read_json(os.path.join(folder, "model_index.json"))

        pipelines = {pipeline.__name__: pipeline for pipeline in HfGanPipeline.__subclasses__()}
        pipeline_name = model_index.get("_class_name")
        if isinstance(pipeline_name, list) and len(pipeline_name) == 2 and pipeline_name[0] == CODE_MODULE:
            pipeline_name = pipeline_name[1]
        if pipeline_name not in pipelines:
            raise ValueError(
                f"'{name}' holds a {pipeline_name!r}, not an hf_gan pipeline ({', '.join(sorted(pipelines))})."
            )
        pipeline_class = pipelines[pipeline_name]
        if cls is not HfGanPipeline and pipeline_class is not cls:
            raise ValueError(
                f"'{name}' holds a {pipeline_name!r}, not a {cls.__name__}: load it with that class "
                f"(hf_gan.{pipeline_name}.from_pretrained) or with hf_gan.HfGanPipeline.from_pretrained."
            )

        component_types = pipeline_class.component_types()
        unknown = set(kwargs) - set(component_types)
        if unknown:
            raise TypeError(
                f"{pipeline_name}.from_pretrained got unexpected arguments {sorted(unknown)}: it takes "
                f"{', '.join(DOWNLOAD_OPTIONS)}, dtype and the components {sorted(component_types)}."
            )
        components = {}
        for component, model_classes in component_types.items():
            entry = model_index.get(component)
            saved = os.path.isfile(os.path.join(folder, component, "config.json"))
            by_entry = {
                (library, model_class.__name__): model_class
                for model_class in model_classes
                for library in (CODE_MODULE, "hf_gan")
            }
            if component in kwargs:
                components[component] = kwargs[component]
            elif component in pipeline_class._optional_components and (entry in (None, [None, None]) or not saved):
                components[component] = None
            elif not isinstance(entry, list) or tuple(entry) not in by_entry:
                raise ValueError(
                    f"Refusing to load '{name}': its model_index.json declares component '{component}' as {entry}, "
                    f"not the {' or '.join(c.__name__ for c in model_classes)} a {pipeline_name} takes. Nothing was "
                    "imported; load repositories of other libraries with their own tools."
                )
            else:
                components[component] = by_entry[tuple(entry)].from_pretrained(folder, subfolder=component)

        config = {
            key: value for key, value in model_index.items() if not key.startswith("_") and key not in component_types
        }
        pipe = pipeline_class(**components, **config)
        pipe.register_to_config(_name_or_path=name)
        return pipe.to(dtype=dtype) if dtype is not None else pipe

    def save_pretrained(self, save_directory, safe_serialization: bool = True, push_to_hub: bool = False, **kwargs):
        """Saves weights (safetensors), configs and model_index.json, plus the code module diffusers loads with
        trust_remote_code=True (see the module docstring). With push_to_hub, uploads the folder to kwargs["repo_id"]
        (default: the folder's name)."""
        if not safe_serialization:
            raise ValueError("hf_gan saves safetensors only: drop safe_serialization=False.")
        hub_kwargs = {
            key: kwargs.pop(key) for key in ("repo_id", "token", "private", "commit_message") if key in kwargs
        }
        super().save_pretrained(save_directory, safe_serialization=True, **kwargs)
        index_path = os.path.join(save_directory, "model_index.json")
        model_index = _read_json(index_path)
        model_index["_class_name"] = [CODE_MODULE, type(self).__name__]
        model_index.pop("_name_or_path", None)  # where it was loaded from: a local path means nothing elsewhere
        code = repository_code()
        folders = [save_directory]
        for component in self.component_types():
            module = getattr(self, component)
            if module is not None:
                model_index[component] = [CODE_MODULE, type(module).__name__]
                folders.append(os.path.join(save_directory, component))
        with open(index_path, "w", encoding="utf-8") as file:
            file.write(json.dumps(model_index, indent=2, sort_keys=True) + "\n")
        for folder in folders:
            Path(folder, f"{CODE_MODULE}.py").write_text(code, encoding="utf-8")
        if push_to_hub:
            repo_id = hub_kwargs.pop("repo_id", os.path.basename(os.path.normpath(save_directory)))
            private = hub_kwargs.pop("private", False)
            repo_id = (
                HfApi().create_repo(repo_id, exist_ok=True, private=private, token=hub_kwargs.get("token")).repo_id
            )
            HfApi().upload_folder(repo_id=repo_id, folder_path=save_directory, **hub_kwargs)

    def check_output_type(self, output_type: str) -> None:
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type={output_type!r} is not supported: use one of {OUTPUT_TYPES}.")

    @staticmethod
    def placement(model: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
        """Device and dtype of `model`, read off one parameter: DiffusionPipeline.device inspects signatures and
        offload hooks on every call, which costs more than sampling a small GAN at batch 1."""
        parameter = next(model.parameters())
        return parameter.device, parameter.dtype

    def images_to_tensor(self, images, size: int, channels: int, model, name: str = "images") -> torch.Tensor:
        """One image or a batch -> a (N, C, S, S) tensor in [-1, 1] on the pipeline's device.

        PIL images; numpy arrays channels last, (H, W, C) or (N, H, W, C), or without the channel axis for one
        channel; tensors channels first, (C, H, W) or (N, C, H, W); or a list of any of these. Values are floats in
        [0, 1] or uint8 in 0..255. `name` is the argument's name in errors.
        """
        if isinstance(images, PIL.Image.Image):
            images = [images]
        if isinstance(images, (list, tuple)) and images and not all(isinstance(i, PIL.Image.Image) for i in images):
            return torch.cat([self.images_to_tensor(image, size, channels, model, name) for image in images])
        if isinstance(images, (list, tuple)) and images:
            if len({image.size for image in images}) > 1:
                sizes = sorted({image.size for image in images})
                raise ValueError(f"{name} must be {size}x{size} pixels, got PIL images of sizes {sizes}.")
            images = np.stack([np.asarray(image.convert("L" if channels == 1 else "RGB")) for image in images])
        given_shape = tuple(images.shape) if isinstance(images, (np.ndarray, torch.Tensor)) else None
        wrong_shape = ValueError(
            f"{name} must be {size}x{size} with {channels} channel(s): arrays (N, {size}, {size}, {channels}) or "
            f"({size}, {size}, {channels}), tensors (N, {channels}, {size}, {size}) or ({channels}, {size}, {size}); "
            f"got shape {given_shape}."
        )
        if isinstance(images, np.ndarray):
            if channels == 1 and images.shape[-2:] == (size, size):
                images = images[..., None]
            if images.ndim < 3:
                raise wrong_shape
            images = torch.from_numpy(np.ascontiguousarray(images)).movedim(-1, -3)
        if not isinstance(images, torch.Tensor):
            raise TypeError(
                f"{name} must be PIL images, a numpy array or a torch.Tensor, got {type(images).__name__}."
            )
        images = images.unsqueeze(0) if images.dim() == 3 else images
        if images.dim() != 4 or tuple(images.shape[1:]) != (channels, size, size):
            raise wrong_shape
        if images.dtype == torch.uint8:
            images = images.float() / 255
        elif not images.is_floating_point():
            raise TypeError(
                f"{name} must be floats in [0, 1] or uint8 in 0..255, got {images.dtype}: convert them to one."
            )
        elif images.numel() and (images.min() < 0 or images.max() > 1):
            raise ValueError(
                f"float {name} must be in [0, 1], got values from {images.min().item():g} to {images.max().item():g}: "
                "divide 0..255 values by 255, or pass them as uint8."
            )
        device, dtype = self.placement(model)
        return images.to(device=device, dtype=dtype) * 2 - 1

    def mask_to_tensor(self, mask_image, count: int, size: int, model) -> torch.Tensor:
        """`mask_image` -> (count, 1, size, size) floats, 1 where pixels are to be repainted (white in an image, as
        diffusers' inpainting pipelines), binarised at 0.5. One mask serves every image; else one per image.

        PIL images (converted to grayscale); numpy arrays (H, W), (N, H, W) or with a last axis of 1; tensors (H, W),
        (1, H, W) or (N, 1, H, W); or a list of any of these. Values bool, uint8 in 0..255 or floats in [0, 1]."""
        expected = f"{size}x{size} (arrays ({size}, {size}) or (N, {size}, {size}), tensors (N, 1, {size}, {size}))"
        if isinstance(mask_image, PIL.Image.Image):
            mask_image = [mask_image]
        if isinstance(mask_image, (list, tuple)) and mask_image:
            if all(isinstance(mask, PIL.Image.Image) for mask in mask_image):
                if len({mask.size for mask in mask_image}) > 1 or mask_image[0].size != (size, size):
                    sizes = sorted({mask.size for mask in mask_image})
                    raise ValueError(f"mask_image must be {expected}, got PIL images of sizes {sizes}.")
                mask_image = np.stack([np.asarray(mask.convert("L")) for mask in mask_image])
            else:
                mask_image = torch.cat([self.mask_to_tensor(mask, 1, size, model) for mask in mask_image])
        given_shape = tuple(mask_image.shape) if isinstance(mask_image, (np.ndarray, torch.Tensor)) else None
        if isinstance(mask_image, np.ndarray):
            if mask_image.ndim in (3, 4) and mask_image.shape[-1] == 1 and mask_image.shape[-3:-1] == (size, size):
                mask_image = mask_image[..., 0]
            mask_image = torch.from_numpy(np.ascontiguousarray(mask_image))
        if not isinstance(mask_image, torch.Tensor):
            raise TypeError(
                f"mask_image must be a PIL image, a numpy array or a torch.Tensor, got {type(mask_image).__name__}."
            )
        if (
            mask_image.dim() not in (2, 3, 4)
            or tuple(mask_image.shape[-2:]) != (size, size)
            or (mask_image.dim() == 4 and mask_image.shape[1] != 1)
        ):
            raise ValueError(f"mask_image must be {expected}, got shape {given_shape}.")
        if mask_image.dtype == torch.uint8:
            mask_image = mask_image.float() / 255
        elif mask_image.dtype == torch.bool:
            mask_image = mask_image.float()
        elif not mask_image.is_floating_point():
            raise TypeError(f"mask_image must be bool, uint8 in 0..255 or floats in [0, 1], got {mask_image.dtype}.")
        mask_image = (mask_image.reshape(-1, 1, size, size) >= 0.5).float()
        if len(mask_image) not in (1, count):
            raise ValueError(f"mask_image holds {len(mask_image)} masks for {count} images: pass one, or one each.")
        empty = [i for i, mask in enumerate(mask_image) if not mask.any()]
        if empty:
            raise ValueError(
                f"mask_image {empty[0]} has no pixel to repaint (none is white, >= 0.5): mark the pixels to restore "
                "in white, or leave mask_image out."
            )
        device, dtype = self.placement(model)
        return mask_image.expand(count, -1, -1, -1).to(device=device, dtype=dtype)

    def search_latents(
        self, model, decode, latent_dim: int, image, known, num_candidates: int, num_steps: int, generator, **options
    ):
        """Error correction with a trained generator, without retraining (Bora et al. 2017; Yeh et al. 2017): for
        each image, `num_candidates` latents z descend (Adam) the reconstruction error of the known pixels,
        mean(known * (A(decode(z)) - image)^2), plus `prior_weight` * mean(z^2), a Gaussian prior that keeps z
        typical; A shrinks to the image's size by block averaging (1 for a full-size image). Returns, per image, the
        decoded candidate of lowest error (N, C, S, S) in [-1, 1]. `decode` maps (N * num_candidates, latent_dim)
        latents, image-major, to images; the starting latents are standard normal."""
        prior_weight, lr = options.get("prior_weight", 1e-3), options.get("lr", 0.05)
        if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 0:
            raise ValueError(f"num_steps must be a non-negative integer, got {num_steps!r}.")
        check_generator(generator)
        count = len(image)
        if isinstance(generator, list) and len(generator) != count:
            raise ValueError(f"generator is a list of {len(generator)} generators for {count} images: one per image.")
        device, dtype = self.placement(model)
        shape = (num_candidates, latent_dim)
        if isinstance(generator, list):
            draws = [randn_tensor(shape, generator=g, device=device, dtype=torch.float32) for g in generator]
            latents = torch.cat(draws)
        else:
            latents = randn_tensor((count * num_candidates, latent_dim), generator=generator, device=device)
        latents = latents.to(dtype).requires_grad_(True)
        target, weight = image.repeat_interleave(num_candidates, 0), known.repeat_interleave(num_candidates, 0)
        scale = model.config.sample_size // image.shape[-1]

        def errors(z):
            images = decode(z)
            measured = torch.nn.functional.avg_pool2d(images, scale) if scale > 1 else images
            data = (weight * (measured - target) ** 2).flatten(1).mean(1)
            return images, data, data + prior_weight * z.pow(2).mean(1)

        optimizer = torch.optim.Adam([latents], lr=lr)
        with torch.enable_grad():
            for _ in range(num_steps):
                (latents.grad,) = torch.autograd.grad(errors(latents)[2].sum(), [latents])  # z's only, not G's
                optimizer.step()
        with torch.no_grad():
            images, data, _ = errors(latents)
            best = data.view(count, num_candidates).argmin(1)
            return images.view(count, num_candidates, *images.shape[1:])[torch.arange(count), best]

    def restore_inputs(self, image, mask_image, scale, model):
        """For a generator's `restore`: the image (N, C, s, s) in [-1, 1], `scale` times smaller than the
        generator's images, the weights of its known pixels (0 where mask_image is white) and the mask (N, 1, S, S)
        or None."""
        config = model.config
        size = config.sample_size
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1 or size % scale:
            raise ValueError(
                f"scale must be a positive integer dividing the model's {size}-pixel size, got {scale!r}."
            )
        image = self.images_to_tensor(image, size // scale, config.out_channels, model, "image")
        if mask_image is None:
            return image, torch.ones_like(image[:, :1]), None
        if scale != 1:
            raise ValueError("mask_image is for full-size images: with scale > 1 every low-resolution pixel is known.")
        mask = self.mask_to_tensor(mask_image, len(image), size, model)
        return image, 1 - mask, mask

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
            return randn_tensor((1, latent_dim), generator=generator, device=torch.device("cpu"), dtype=torch.float32)[
                0
            ]
        if isinstance(point, torch.Tensor) and point.is_floating_point() and point.numel() == latent_dim:
            return point.detach().reshape(latent_dim).float().cpu()
        raise TypeError(
            f"{name} must be a seed (an integer) or a float tensor of {latent_dim} latents, got {point!r}."
        )

    def postprocess(self, images: torch.Tensor, output_type: str, return_dict: bool):
        """Generator output in [-1, 1] -> "pil" images, "np" (N, H, W, C) or "pt" (N, C, H, W) float arrays in
        [0, 1]."""
        images = self.image_processor.postprocess(images, output_type=output_type)
        if output_type == "pt":
            images = images.float()
        if not return_dict:
            return (images,)
        return ImagePipelineOutput(images=images)
