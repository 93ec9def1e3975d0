# hf_gan's networks and pipelines (hf_gan/models and hf_gan/pipelines, joined into one module by
# HfGanPipeline.save_pretrained), so that diffusers loads this repository without hf_gan installed:
# DiffusionPipeline.from_pretrained(repo, trust_remote_code=True). hf_gan's own from_pretrained never runs it.
"""The base of every hf_gan model: a diffusers ModelMixin that loads safetensors weights strictly and nothing else.

Integrity: `save_pretrained` records the SHA-256 digest of each weight file in config.json (`_weights_sha256`), and
`from_pretrained` checks it before reading the weights. This catches corruption and partial copies; it does not stop
someone who edits the weights and the digests together (docs/security.md). Folders saved before digests existed still
load. With or without digests, weights holding NaN or infinity, or tensors of another kind of dtype than the model's
(integers where it holds floats), are refused rather than cast, and config.json values must have the types that the
model's constructor declares.

This module imports only torch, safetensors, diffusers and the standard library, so that it can travel with the model
files into a repository that plain diffusers loads with trust_remote_code.
"""

import hashlib
import inspect
import json
import os
import types
import typing

import safetensors
import torch
from diffusers import ModelMixin
from diffusers.configuration_utils import FrozenDict
from diffusers.utils import CONFIG_NAME, SAFE_WEIGHTS_INDEX_NAME, SAFETENSORS_WEIGHTS_NAME, logging
from diffusers.utils.hub_utils import _add_variant, _get_model_file


logger = logging.get_logger(__name__)

DIGESTS_KEY = "_weights_sha256"
# from_pretrained keyword arguments that say where to find the files, as diffusers' own loader reads them.
FILE_LOCATION_KWARGS = ("subfolder", "cache_dir", "force_download", "proxies", "local_files_only", "token", "revision")
RELOAD_ADVICE = (
    "re-download it (force_download=True) or copy the folder again; if you changed the weights on purpose, load them "
    "into the model in Python and re-save it with save_pretrained"
)


class ModelLoadingError(OSError, ValueError):
    """A model folder that cannot be loaded, with what to do about it (an OSError and a ValueError, the two kinds
    that diffusers raises for unreadable and for inconsistent files)."""


def sha256_of_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _matches_annotation(value, annotation) -> bool:
    """Whether a JSON value fits a constructor annotation; annotations other than plain types pass."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_matches_annotation(value, option) for option in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:  # bool is an int subclass in Python, but `true` is no layer count
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    return True


def check_config_types(model_class: type, config: dict, config_path: str) -> None:
    """Refuses config.json values whose type differs from the constructor's annotation: a string "false" would
    otherwise be read as true, and a string "64" fail deep inside a layer with no file named."""
    for name, parameter in inspect.signature(model_class.__init__).parameters.items():
        if name in config and parameter.annotation is not inspect.Parameter.empty:
            value, expected = config[name], parameter.annotation
            if not _matches_annotation(value, expected):
                expected_name = getattr(expected, "__name__", str(expected))
                raise ModelLoadingError(
                    f"{config_path}: {name!r} is {json.dumps(value)} (a JSON {type(value).__name__}), but "
                    f"{model_class.__name__} expects {expected_name}. Write it without quotes, e.g. 64 or false."
                )


class _ModelType(type):
    """Makes a class also accept instances of its re-executed copies as its own. diffusers executes a repository's
    code module anew for each component it loads (trust_remote_code), so a remote pipeline's components are instances
    of new class objects of the same module and name; isinstance (diffusers' type check of components, the
    pipelines' own) should treat those as the class they are."""

    def __instancecheck__(cls, instance):
        return super().__instancecheck__(instance) or any(
            (base.__module__, base.__qualname__) == (cls.__module__, cls.__qualname__)
            for base in type(instance).__mro__
        )


class SafetensorsModelMixin(ModelMixin, metaclass=_ModelType):
    """`from_pretrained` reads safetensors only (never pickled `.bin` files), whichever entry point calls it, and
    refuses weights that miss tensors or carry extra ones, instead of leaving layers randomly initialised."""

    def save_pretrained(
        self,
        save_directory,
        is_main_process: bool = True,
        safe_serialization: bool = True,
        push_to_hub: bool = False,
        **kwargs,
    ):
        """diffusers' `save_pretrained`, which then records the weight files' SHA-256 digests in config.json."""
        if not safe_serialization:
            raise ValueError(f"{type(self).__name__} saves safetensors weights only: drop safe_serialization=False.")
        hub_names = ("repo_id", "commit_message", "private", "token", "create_pr")
        hub_kwargs = {k: kwargs.pop(k) for k in hub_names if k in kwargs}
        super().save_pretrained(save_directory, is_main_process=is_main_process, **kwargs)
        if is_main_process:
            config_path = os.path.join(save_directory, CONFIG_NAME)
            with open(config_path, encoding="utf-8") as file:
                config = json.load(file)
            config[DIGESTS_KEY] = {
                name: sha256_of_file(os.path.join(save_directory, name))
                for name in sorted(os.listdir(save_directory))
                if name.endswith(".safetensors")
            }
            with open(config_path, "w", encoding="utf-8") as file:
                file.write(json.dumps(config, indent=2, sort_keys=True) + "\n")  # diffusers' own layout
        if push_to_hub:  # push_to_hub saves again, digests included, into a temporary folder that it uploads
            repo_id = hub_kwargs.pop("repo_id", os.path.basename(os.path.normpath(save_directory)))
            self.push_to_hub(repo_id, variant=kwargs.get("variant"), **hub_kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        if kwargs.get("use_safetensors") is False:
            raise ValueError(f"{cls.__name__} loads safetensors weights only: drop use_safetensors=False.")
        kwargs["use_safetensors"] = True
        return_loading_info = kwargs.pop("output_loading_info", False)
        where = (
            f"{pretrained_model_name_or_path}/{kwargs['subfolder']}"
            if kwargs.get("subfolder")
            else pretrained_model_name_or_path
        )
        try:
            weight_paths = cls._check_files(pretrained_model_name_or_path, kwargs)
            model, loading_info = super().from_pretrained(
                pretrained_model_name_or_path, output_loading_info=True, **kwargs
            )
            problems = {k: v for k, v in loading_info.items() if k != "error_msgs" and v}
            if problems:
                raise ValueError(f"the weights do not match the model's config: {problems}")
            _check_tensors(model, weight_paths)
        except (OSError, ValueError, RuntimeError) as error:
            ours = isinstance(error, ModelLoadingError)  # already says what is wrong and what to do
            cause = f" ({error.__cause__})" if error.__cause__ else ""
            advice = (
                ""
                if ours
                else (
                    "\nThe weight file may be truncated or tampered with, or config.json may not match it: "
                    "re-download it (force_download=True) or re-save the model with save_pretrained."
                )
            )
            raise ModelLoadingError(f"Could not load {cls.__name__} from '{where}': {error}{cause}{advice}") from (
                None if ours else error
            )
        # The digests describe the files just read, not this model once it trains on: save_pretrained records anew.
        model._internal_dict = FrozenDict({k: v for k, v in model.config.items() if k != DIGESTS_KEY})
        return (model, loading_info) if return_loading_info else model

    @classmethod
    def _check_files(cls, pretrained_model_name_or_path, kwargs) -> list[str]:
        """Checks config.json's value types and the weight files' digests; returns the weight files' local paths
        (empty when there are none, which leaves the error to diffusers' loader)."""
        location = {k: kwargs[k] for k in FILE_LOCATION_KWARGS if k in kwargs}

        def resolve(name):
            return _get_model_file(pretrained_model_name_or_path, weights_name=name, **location)

        config_path = resolve(CONFIG_NAME)
        with open(config_path, encoding="utf-8") as file:
            config = json.load(file)
        check_config_types(cls, config, config_path)
        try:
            weight_paths = [resolve(_add_variant(SAFETENSORS_WEIGHTS_NAME, kwargs.get("variant")))]
        except OSError:
            try:  # sharded weights: the index names the files
                index_path = resolve(_add_variant(SAFE_WEIGHTS_INDEX_NAME, kwargs.get("variant")))
            except OSError:
                return []
            with open(index_path, encoding="utf-8") as file:
                weight_paths = [resolve(name) for name in sorted(set(json.load(file)["weight_map"].values()))]
        digests = config.get(DIGESTS_KEY)
        if digests is None:
            logger.info(f"{config_path} records no weight digests (saved by an older hf_gan): integrity not checked.")
            return weight_paths
        for path in weight_paths:
            name = os.path.basename(path)
            if name not in digests:
                raise ModelLoadingError(
                    f"{config_path} records SHA-256 digests of {sorted(digests)}, but not of {path}, which would be "
                    f"loaded: the folder mixes files of different saves. Copy the whole folder again, or "
                    f"{RELOAD_ADVICE}."
                )
            actual = sha256_of_file(path)
            if actual != digests[name]:
                raise ModelLoadingError(
                    f"{path} is not the file that was saved: its SHA-256 digest is {actual}, but {config_path} "
                    f"records {digests[name]}. The file is truncated or tampered with (a partial copy, a damaged "
                    f"disk or download, or an edit): {RELOAD_ADVICE}."
                )
        return weight_paths


def _check_tensors(model: torch.nn.Module, weight_paths: list[str]) -> None:
    """Refuses weights that diffusers would load anyway: NaN or infinite values, and dtypes that a load would cast
    silently (integers into float layers, or a file whose float tensors disagree on their dtype)."""
    expected = model.state_dict()
    for path in weight_paths:
        non_finite, wrong_dtype, float_dtypes = [], [], set()
        with safetensors.safe_open(path, framework="pt") as file:
            for name in file.keys():
                tensor = file.get_tensor(name)
                if tensor.is_floating_point():
                    float_dtypes.add(tensor.dtype)
                    if not torch.isfinite(tensor).all():
                        non_finite.append(name)
                if name in expected and (
                    tensor.is_floating_point() != expected[name].is_floating_point()
                    or (not tensor.is_floating_point() and tensor.dtype != expected[name].dtype)
                ):
                    wrong_dtype.append(f"{name} ({tensor.dtype}, the model holds {expected[name].dtype})")
        if non_finite:
            raise ModelLoadingError(
                f"{path} holds NaN or infinite values in {len(non_finite)} tensor(s): {', '.join(non_finite[:5])}. "
                f"Weights like these give NaN images: use another checkpoint, or {RELOAD_ADVICE}."
            )
        if wrong_dtype or len(float_dtypes) > 1:
            found = wrong_dtype[:5] or [f"float tensors of several dtypes {sorted(map(str, float_dtypes))}"]
            raise ModelLoadingError(
                f"{path} holds tensors of a dtype that save_pretrained does not write: {', '.join(found)}. Loading "
                f"would cast them silently; {RELOAD_ADVICE}. (To load in another precision, pass torch_dtype=...)"
            )


"""Convolutional stacks shared by the generator, the discriminator and the autoencoder.

DCGAN layout (Radford et al. 2015): strided 4x4 convolutions halve the resolution on the way down, transposed 4x4
convolutions double it on the way up. A stack starts (or ends) at 7x7 for 28-pixel images (MNIST) and at 4x4 for
powers of two, so `sample_size` must be 28 or 7 * 2**k, or 4 * 2**k.
"""

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


NORMS = ("batch", "spectral", "none")


def stack_geometry(sample_size: int) -> tuple[int, int]:
    """Returns (base resolution, number of 2x resampling stages) for a square image of `sample_size` pixels."""
    for base in (4, 7):
        stages = math.log2(sample_size / base) if sample_size >= base else -1
        if stages >= 1 and stages == int(stages):
            return base, int(stages)
    raise ValueError(
        f"sample_size={sample_size} is not supported: use 28 (MNIST), 7 * 2**k or a power of two from 8 upwards "
        "(e.g. 32 or 64), and resize your dataset to it."
    )


def stage_widths(base_channels: int, stages: int) -> list[int]:
    """Channel widths from the full-resolution stage to the deepest one: base, 2*base, ... capped at 8*base."""
    return [base_channels * min(2**i, 8) for i in range(stages)]


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r} is not one of {NORMS}.")


class ConvEncoder(nn.Module):
    """Image (N, C, S, S) -> flat features (N, out_features), by strided convolutions with LeakyReLU.

    `extra_layers` 3x3 convolutions (twice as wide) at the lowest resolution widen what each feature sees: at 28 px,
    from a 10x10-pixel patch to 26x26 for the centre one, so a linear head on top no longer just sums local
    evidence."""

    def __init__(self, in_channels: int, sample_size: int, base_channels: int, norm: str, extra_layers: int = 0):
        super().__init__()
        _check_norm(norm)
        base, stages = stack_geometry(sample_size)
        widths = stage_widths(base_channels, stages)
        wrap = _spectral_norm if norm == "spectral" else (lambda layer: layer)
        layers = []
        for i, (c_in, c_out) in enumerate(zip([in_channels] + widths[:-1], widths)):
            layers.append(wrap(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=norm != "batch")))
            # DCGAN: no normalisation on the layer that sees raw pixels.
            if norm == "batch" and i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        extra_widths = [widths[-1]] + [2 * widths[-1]] * extra_layers
        for c_in, c_out in zip(extra_widths, extra_widths[1:]):
            layers += [wrap(nn.Conv2d(c_in, c_out, 3, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
        self.layers = nn.Sequential(*layers, nn.Flatten())
        self.out_features = extra_widths[-1] * base * base

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


class ClassConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017; Miyato & Koyama 2018).

    Float labels (N, num_classes) are class weights: the scale and shift are the weighted mix of the classes'."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Embedding(num_classes, channels)
        self.shift = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, class_labels: torch.Tensor) -> torch.Tensor:
        if class_labels.is_floating_point():
            weights = class_labels.to(self.scale.weight.dtype)
            scale, shift = weights @ self.scale.weight, weights @ self.shift.weight
        else:
            scale, shift = self.scale(class_labels.long()), self.shift(class_labels.long())
        return self.norm(x) * scale[:, :, None, None] + shift[:, :, None, None]


class ConvDecoder(nn.Module):
    """Vector (N, in_features) -> image (N, C, S, S) in [-1, 1], by transposed convolutions with BatchNorm + ReLU.

    With `num_classes`, every BatchNorm takes its scale and shift from the class label (forward's `class_labels`)."""

    def __init__(
        self, in_features: int, out_channels: int, sample_size: int, base_channels: int, num_classes: int | None = None
    ):
        super().__init__()
        base, stages = stack_geometry(sample_size)
        widths = stage_widths(base_channels, stages)[::-1]
        self.project = nn.Sequential(
            nn.Linear(in_features, widths[0] * base * base, bias=False), nn.Unflatten(1, (widths[0], base, base))
        )
        self.convs = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False)
            for c_in, c_out in zip(widths, widths[1:] + [widths[-1]])
        )
        # one norm after the projection and one after each transposed convolution
        norm_widths = [widths[0]] + widths[1:] + [widths[-1]]
        self.norms = nn.ModuleList(
            ClassConditionalBatchNorm2d(c, num_classes) if num_classes else nn.BatchNorm2d(c) for c in norm_widths
        )
        self.to_image = nn.Sequential(nn.Conv2d(widths[-1], out_channels, 3, padding=1), nn.Tanh())

    def forward(self, features: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        norm_args = () if class_labels is None else (class_labels,)
        x = torch.relu(self.norms[0](self.project(features), *norm_args))
        for conv, norm in zip(self.convs, self.norms[1:]):
            x = torch.relu(norm(conv(x), *norm_args))
        return self.to_image(x)


"""DCGAN-style generator and discriminator, unconditional or conditioned on a class label.

Conditioning follows Mirza & Osindero (2014): the generator sees the one-hot label concatenated to its noise (and,
with `class_conditional_norm`, takes the scale and shift of every BatchNorm from the label, which conditions more
strongly). The discriminator either sees the one-hot label as extra input channels (`conditioning="concat"`, the
paper's recipe) or scores the label against its features with a projection (`conditioning="projection"`, Miyato &
Koyama 2018), which trains faster and is the default. `auxiliary_classifier=True` adds a head that predicts the class
from the same features (AC-GAN, Odena et al. 2017), which the training script can use as an extra, strong
conditioning signal. For an unconditional GAN, `categorical_code` adds InfoGAN's categorical latent code (Chen et
al. 2016) to G, and to D the head that reads it back. `extra_layers` deepens the discriminator at its lowest
resolution (see ConvEncoder): two such layers cut the unconditional MNIST GAN's FLD 2.5-fold at equal steps
(README), and the MNIST presets use them.
"""

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin
from diffusers.configuration_utils import register_to_config
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm



CONDITIONINGS = ("projection", "concat")


def _one_hot(class_labels: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """One-hot vectors of integer labels (N,); float labels (N, num_classes), class weights such as a blend of two
    classes, are taken as they are."""
    if class_labels.is_floating_point():
        return class_labels.to(dtype)
    return F.one_hot(class_labels.long(), num_classes).to(dtype)


def _require_labels(class_labels, num_classes, model_name):
    if num_classes and class_labels is None:
        raise ValueError(f"{model_name} is conditional ({num_classes} classes): pass class_labels.")
    if not num_classes and class_labels is not None:
        raise ValueError(f"{model_name} is unconditional: do not pass class_labels.")


class DCGANGenerator(SafetensorsModelMixin, ConfigMixin):
    """Maps latents z ~ N(0, I) of size `latent_dim` (and a class label if `num_classes`) to images in [-1, 1].

    With `categorical_code=K` (InfoGAN, Chen et al. 2016), the last K latent entries pick a categorical code c, their
    argmax (uniform over K values, since they are i.i.d. normal), which G sees one-hot instead of those entries. An
    unconditional GAN trained to make c recoverable from its images (train_gan.py --categorical_code) learns discrete
    modes, such as MNIST's digits, without labels.

    `class_labels` are class ids (N,) or class weights (N, num_classes), e.g. (1 - t) * one_hot(a) + t * one_hot(b)
    to blend two classes: G's label input and its conditional norms' scales and shifts are linear in the one-hot
    label, so weights mix them, and a one-hot row gives exactly that class's image."""

    @register_to_config
    def __init__(
        self,
        latent_dim: int = 64,
        sample_size: int = 28,
        out_channels: int = 1,
        base_channels: int = 32,
        num_classes: int | None = None,
        class_conditional_norm: bool = False,
        categorical_code: int = 0,
    ):
        super().__init__()
        if num_classes and categorical_code:
            raise ValueError("A generator takes a class label (num_classes) or a categorical code, not both.")
        if not 0 <= categorical_code < latent_dim:
            raise ValueError(
                f"categorical_code={categorical_code} must be at least 0 and below latent_dim={latent_dim}."
            )
        if class_conditional_norm and not (num_classes or categorical_code):
            raise ValueError("class_conditional_norm needs num_classes or categorical_code.")
        self.decoder = ConvDecoder(
            latent_dim + (num_classes or 0),
            out_channels,
            sample_size,
            base_channels,
            (num_classes or categorical_code) if class_conditional_norm else None,
        )

    def split_code(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the Gaussian part of `latents`, the categorical code they pick) for a generator with `categorical_code`."""
        size = self.config.categorical_code
        return latents[:, :-size], latents[:, -size:].argmax(1)

    def forward(self, latents: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        num_classes, code_size = self.config.num_classes, self.config.categorical_code
        _require_labels(class_labels, num_classes, type(self).__name__)
        if code_size:  # the code plays the label's part
            latents, class_labels = self.split_code(latents)
            num_classes = code_size
        if num_classes:
            latents = torch.cat([latents, _one_hot(class_labels, num_classes, latents.dtype)], dim=1)
        return self.decoder(latents, class_labels if self.config.class_conditional_norm else None)


class DCGANDiscriminator(SafetensorsModelMixin, ConfigMixin):
    """Scores images (and their class labels if `num_classes`): returns one logit per image, D(x) = sigmoid(logit).

    An auxiliary head on D's features predicts the class (`auxiliary_classifier`, AC-GAN) or a generator's
    categorical code (`categorical_code=K`, InfoGAN's Q network, which shares D's layers as in the paper)."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 28,
        in_channels: int = 1,
        base_channels: int = 32,
        num_classes: int | None = None,
        conditioning: str = "projection",
        norm: str = "spectral",
        auxiliary_classifier: bool = False,
        extra_layers: int = 0,
        categorical_code: int = 0,
    ):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning={conditioning!r} is not one of {CONDITIONINGS}.")
        concat_channels = num_classes if num_classes and conditioning == "concat" else 0
        self.encoder = ConvEncoder(in_channels + concat_channels, sample_size, base_channels, norm, extra_layers)
        wrap = spectral_norm if norm == "spectral" else (lambda layer: layer)
        self.head = wrap(nn.Linear(self.encoder.out_features, 1))
        if num_classes and conditioning == "projection":
            self.class_embedding = wrap(nn.Embedding(num_classes, self.encoder.out_features))
        if auxiliary_classifier and not num_classes:
            raise ValueError("auxiliary_classifier needs num_classes.")
        if auxiliary_classifier and categorical_code:
            raise ValueError(
                "The auxiliary head predicts the class (auxiliary_classifier) or a categorical code, not both."
            )
        if auxiliary_classifier:
            self.class_head = wrap(nn.Linear(self.encoder.out_features, num_classes))
        if categorical_code:
            self.code_head = wrap(nn.Linear(self.encoder.out_features, categorical_code))

    def forward(
        self,
        images: torch.Tensor,
        class_labels: torch.Tensor | None = None,
        return_class_logits: bool = False,
        return_code_logits: bool = False,
    ):
        """One real/fake logit per image; with `return_class_logits`, also the AC-GAN head's class logits, with
        `return_code_logits`, the InfoGAN head's logits of the generator's categorical code."""
        if return_class_logits and not self.config.auxiliary_classifier:
            raise ValueError("return_class_logits needs a discriminator built with auxiliary_classifier=True.")
        if return_code_logits and not self.config.categorical_code:
            raise ValueError("return_code_logits needs a discriminator built with categorical_code.")
        num_classes = self.config.num_classes
        _require_labels(class_labels, num_classes, type(self).__name__)
        if num_classes and self.config.conditioning == "concat":
            size = images.shape[-1]
            label_maps = _one_hot(class_labels, num_classes, images.dtype)[:, :, None, None]
            images = torch.cat([images, label_maps.expand(-1, -1, size, size)], dim=1)
        features = self.encoder(images)
        logits = self.head(features).squeeze(1)
        if num_classes and self.config.conditioning == "projection":
            logits = logits + (self.class_embedding(class_labels.long()) * features).sum(dim=1)
        if return_class_logits:
            return logits, self.class_head(features)
        if return_code_logits:
            return logits, self.code_head(features)
        return logits


"""Residual generator and discriminator for colour images of 32 px and up (SNGAN, Miyato et al. 2018; BigGAN, Brock et
al. 2019), unconditional or conditioned on a class label.

G: a linear map of the latents to a 4x4 grid, then residual blocks that each double the resolution (BatchNorm, ReLU,
nearest-neighbour upsampling, two 3x3 convolutions, and a 1x1 convolution on the skip path). With `num_classes`,
every BatchNorm takes its scale and shift from the label (class-conditional BatchNorm, de Vries et al. 2017, as in
SNGAN's and BigGAN's conditional generators). D: residual blocks that each halve the resolution by average pooling,
all weights spectrally normalised, a sum over positions, and a linear head; a label enters by projection (Miyato &
Koyama 2018), and `auxiliary_classifier` adds AC-GAN's class head. Widths double per halving of the resolution, up to
8x `base_channels`, as in DCGAN's stacks (hf_gan.models.blocks).

The call signatures are those of the DCGAN networks (G(latents, class_labels), D(images, class_labels,
return_class_logits)), so the training loop, the pipelines and the metrics take either.
"""

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin
from diffusers.configuration_utils import register_to_config
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm



def _check_resolution(sample_size: int) -> int:
    base, stages = stack_geometry(sample_size)
    if base != 4:
        raise ValueError(f"sample_size={sample_size}: the residual networks take powers of two (32, 64, 128...).")
    return stages


class GeneratorBlock(nn.Module):
    """norm, ReLU, 2x upsampling, 3x3 conv, norm, ReLU, 3x3 conv; plus the upsampled input through a 1x1 conv."""

    def __init__(self, c_in: int, c_out: int, num_classes: int | None):
        super().__init__()
        norm = (lambda c: ClassConditionalBatchNorm2d(c, num_classes)) if num_classes else nn.BatchNorm2d
        self.norm1, self.norm2 = norm(c_in), norm(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, norm_args: tuple) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, *norm_args)), scale_factor=2)
        h = self.conv2(F.relu(self.norm2(self.conv1(h), *norm_args)))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class DiscriminatorBlock(nn.Module):
    """(ReLU), 3x3 conv, ReLU, 3x3 conv, 2x average pooling; plus the input through a 1x1 conv and pooling. The first
    block sees raw pixels: no ReLU before its first convolution, and its skip path pools first (SNGAN's
    OptimizedBlock)."""

    def __init__(self, c_in: int, c_out: int, first: bool):
        super().__init__()
        self.first = first
        self.conv1 = spectral_norm(nn.Conv2d(c_in, c_out, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = spectral_norm(nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = F.avg_pool2d(self.conv2(F.relu(h)), 2)
        skip = self.skip(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.skip(x), 2)
        return h + skip


class ResNetGenerator(SafetensorsModelMixin, ConfigMixin):
    """Maps latents z ~ N(0, I) of size `latent_dim` (and a class label if `num_classes`) to images in [-1, 1].

    `class_labels` are class ids (N,) or class weights (N, num_classes) that blend classes, as for DCGANGenerator."""

    @register_to_config
    def __init__(
        self,
        latent_dim: int = 128,
        sample_size: int = 64,
        out_channels: int = 3,
        base_channels: int = 32,
        num_classes: int | None = None,
    ):
        super().__init__()
        widths = stage_widths(base_channels, _check_resolution(sample_size))[::-1]
        self.project = nn.Linear(latent_dim, widths[0] * 16)
        self.blocks = nn.ModuleList(
            GeneratorBlock(c_in, c_out, num_classes) for c_in, c_out in zip(widths, widths[1:] + [widths[-1]])
        )
        self.norm = nn.BatchNorm2d(widths[-1])
        self.to_image = nn.Conv2d(widths[-1], out_channels, 3, padding=1)

    def forward(self, latents: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        num_classes = self.config.num_classes
        _require_labels(class_labels, num_classes, type(self).__name__)
        norm_args = () if class_labels is None else (class_labels,)
        x = self.project(latents).unflatten(1, (-1, 4, 4))
        for block in self.blocks:
            x = block(x, norm_args)
        return torch.tanh(self.to_image(F.relu(self.norm(x))))


class ResNetDiscriminator(SafetensorsModelMixin, ConfigMixin):
    """Scores images (and their class labels if `num_classes`): one logit per image, D(x) = sigmoid(logit); with
    `auxiliary_classifier`, also AC-GAN's class logits (`return_class_logits`)."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 64,
        in_channels: int = 3,
        base_channels: int = 32,
        num_classes: int | None = None,
        auxiliary_classifier: bool = False,
    ):
        super().__init__()
        if auxiliary_classifier and not num_classes:
            raise ValueError("auxiliary_classifier needs num_classes.")
        widths = stage_widths(base_channels, _check_resolution(sample_size))
        self.blocks = nn.Sequential(
            *(
                DiscriminatorBlock(c_in, c_out, i == 0)
                for i, (c_in, c_out) in enumerate(zip([in_channels] + widths, widths))
            )
        )
        self.head = spectral_norm(nn.Linear(widths[-1], 1))
        if num_classes:
            self.class_embedding = spectral_norm(nn.Embedding(num_classes, widths[-1]))
        if auxiliary_classifier:
            self.class_head = spectral_norm(nn.Linear(widths[-1], num_classes))

    def forward(self, images: torch.Tensor, class_labels: torch.Tensor | None = None, return_class_logits=False):
        if return_class_logits and not self.config.auxiliary_classifier:
            raise ValueError("return_class_logits needs a discriminator built with auxiliary_classifier=True.")
        _require_labels(class_labels, self.config.num_classes, type(self).__name__)
        features = F.relu(self.blocks(images)).sum(dim=(2, 3))
        logits = self.head(features).squeeze(1)
        if class_labels is not None:
            logits = logits + (self.class_embedding(class_labels.long()) * features).sum(dim=1)
        if return_class_logits:
            return logits, self.class_head(features)
        return logits


"""A convolutional autoencoder whose decoder doubles as a generator: the first, simple idea of image generation.

A plain autoencoder puts no prior on its codes, so decoding N(0, I) noise gives poor images. We fit a Gaussian to the
codes of the training set after training (`fit_latent_prior`) and sample from it: noise eps ~ N(0, I) becomes the code
mean + L eps, with L the Cholesky factor of the code covariance. The mean and L are buffers, saved with the weights.
"""

import torch
from diffusers import ConfigMixin
from diffusers.configuration_utils import register_to_config
from torch import nn



class ConvAutoencoder(SafetensorsModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, latent_dim: int = 16, sample_size: int = 28, channels: int = 1, base_channels: int = 32):
        super().__init__()
        features = ConvEncoder(channels, sample_size, base_channels, norm="batch")
        self.encoder = nn.Sequential(features, nn.Linear(features.out_features, latent_dim))
        self.decoder = ConvDecoder(latent_dim, channels, sample_size, base_channels)
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_scale_tril", torch.eye(latent_dim))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decoder(codes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))

    @torch.no_grad()
    def fit_latent_prior(self, codes: torch.Tensor) -> None:
        """Sets the Gaussian sampling prior to the mean and covariance of `codes` (N, latent_dim), N > latent_dim."""
        codes = codes.double()
        covariance = torch.cov(codes.T) + 1e-5 * torch.eye(codes.shape[1], dtype=codes.dtype, device=codes.device)
        self.latent_mean.copy_(codes.mean(0))
        self.latent_scale_tril.copy_(torch.linalg.cholesky(covariance))

    def noise_to_codes(self, noise: torch.Tensor) -> torch.Tensor:
        return self.latent_mean + noise @ self.latent_scale_tril.T

    def codes_to_noise(self, codes: torch.Tensor) -> torch.Tensor:
        centred = (codes - self.latent_mean).T.float()
        return torch.linalg.solve_triangular(self.latent_scale_tril.float(), centred, upper=False).T.to(codes.dtype)


"""Image-conditional generator and discriminator of pix2pix (Isola et al. 2017): G is a U-Net that maps a condition
image to an output image, D a PatchGAN that scores (condition, output) pairs patch by patch.

The condition may be smaller than the output (super-resolution, `condition_size` < `sample_size`): both networks
first enlarge it to `sample_size` (bicubic), so the U-Net's skips carry the enlarged input. With `mask_channel`, the
condition carries one more channel, the mask (1 where pixels are to be repainted, 0 where they are known); masked
pixels of the image are blanked to 0 (mid-grey in [-1, 1]) before G sees them. G also takes a small latent noise
vector, broadcast over its bottleneck, so that a `generator` gives reproducible variation (pix2pix used dropout for
that; an explicit input keeps a batch equal to its images one by one).
"""

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin
from diffusers.configuration_utils import register_to_config
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm



def _check_sizes(sample_size: int, condition_size: int, num_down: int) -> None:
    if sample_size % 2**num_down:
        raise ValueError(
            f"sample_size={sample_size} must be divisible by 2**num_down={2**num_down} (e.g. 28 with num_down=2)."
        )
    if condition_size < 1 or sample_size % condition_size:
        raise ValueError(
            f"condition_size={condition_size} must divide sample_size={sample_size} (e.g. 7 for x4 on 28 px)."
        )


def condition_input(
    image: torch.Tensor, mask_image: torch.Tensor | None, sample_size: int, mask_channel: bool
) -> torch.Tensor:
    """The condition as both networks see it: the image (N, C, s, s) in [-1, 1] enlarged to `sample_size`, with
    masked pixels blanked and the mask (N, 1, S, S) appended when `mask_channel`."""
    if image.shape[-1] != sample_size:
        image = F.interpolate(image, size=(sample_size, sample_size), mode="bicubic", align_corners=False)
    if not mask_channel:
        if mask_image is not None:
            raise ValueError("This model takes no mask_image: it was trained without masks.")
        return image
    if mask_image is None:  # nothing to repaint: every pixel is known (e.g. a noisy image)
        mask_image = image.new_zeros(image.shape[0], 1, sample_size, sample_size)
    mask_image = mask_image.to(image.dtype)
    return torch.cat([image * (1 - mask_image), mask_image], dim=1)


def compose(output: torch.Tensor, image: torch.Tensor, mask_image: torch.Tensor | None) -> torch.Tensor:
    """Inpainting keeps the known pixels: `output` where the mask is 1, `image` where it is 0. An image without a
    mask, or whose mask has no pixel to repaint (how a restorer trained on masks and noise marks a noisy image), has
    no pixel to trust as it is: it is `output` throughout."""
    if mask_image is None:
        return output
    mask_image = mask_image.to(output.dtype)
    keep = (1 - mask_image) * mask_image.flatten(1).any(1).to(output.dtype)[:, None, None, None]
    return (1 - keep) * output + keep * image.to(output.dtype)


class UNetGenerator(SafetensorsModelMixin, ConfigMixin):
    """U-Net (Ronneberger et al. 2015) as pix2pix's G: `num_down` strided 4x4 convolutions down, 3x3 convolutions at
    the bottleneck, transposed 4x4 convolutions up, each concatenated with the encoder's features of its resolution.
    Output in [-1, 1] (tanh), `out_channels` x `sample_size` x `sample_size`."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 28,
        in_channels: int = 1,
        out_channels: int = 1,
        condition_size: int = 28,
        mask_channel: bool = False,
        base_channels: int = 32,
        num_down: int = 2,
        latent_dim: int = 8,
    ):
        super().__init__()
        _check_sizes(sample_size, condition_size, num_down)
        widths = [base_channels * min(2**i, 8) for i in range(num_down + 1)]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels + int(mask_channel), widths[0], 3, padding=1), nn.LeakyReLU(0.2, inplace=True)
        )
        self.downs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, inplace=True),
            )
            for c_in, c_out in zip(widths, widths[1:])
        )
        self.bottleneck = nn.Sequential(
            nn.Conv2d(widths[-1] + latent_dim, widths[-1], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[-1]),
            nn.ReLU(inplace=True),
        )
        # up path: from the bottleneck (+ the skip of its resolution) to the next resolution up
        self.ups = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose2d(2 * c_in, c_out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            )
            for c_in, c_out in zip(widths[::-1], widths[::-1][1:])
        )
        self.to_image = nn.Sequential(nn.Conv2d(2 * widths[0], out_channels, 3, padding=1), nn.Tanh())

    def forward(
        self, image: torch.Tensor, mask_image: torch.Tensor | None = None, latents: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`image` (N, in_channels, condition_size, condition_size) in [-1, 1]; `mask_image` (N, 1, S, S), 1 where
        to repaint (models with `mask_channel`); `latents` (N, latent_dim), zeros if None."""
        config = self.config
        x = condition_input(image, mask_image, config.sample_size, config.mask_channel)
        skips = [self.stem(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        h = skips[-1]
        if config.latent_dim:
            if latents is None:
                latents = h.new_zeros(h.shape[0], config.latent_dim)
            h = torch.cat([h, latents.to(h.dtype)[:, :, None, None].expand(-1, -1, *h.shape[-2:])], dim=1)
        h = self.bottleneck(h)
        for up, skip in zip(self.ups, skips[::-1]):
            h = up(torch.cat([h, skip], dim=1))
        return self.to_image(torch.cat([h, skips[0]], dim=1))


class PatchGANDiscriminator(SafetensorsModelMixin, ConfigMixin):
    """pix2pix's D: scores (condition, image) pairs, one logit per overlapping patch (N, 1, P, P), D = sigmoid.

    It sees the condition (enlarged, masked and with its mask as G sees it) concatenated with the image, so that it
    judges whether the output fits its input, not only whether it looks real."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 28,
        in_channels: int = 1,
        out_channels: int = 1,
        condition_size: int = 28,
        mask_channel: bool = False,
        base_channels: int = 32,
        num_down: int = 2,
        norm: str = "spectral",
    ):
        super().__init__()
        _check_sizes(sample_size, condition_size, num_down)
        if norm not in NORMS:
            raise ValueError(f"norm={norm!r} is not one of {NORMS}.")
        wrap = spectral_norm if norm == "spectral" else (lambda layer: layer)
        widths = [base_channels * min(2**i, 8) for i in range(num_down)]
        layers, c_in = [], in_channels + int(mask_channel) + out_channels
        for i, c_out in enumerate(widths):
            layers.append(wrap(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=norm != "batch")))
            if norm == "batch" and i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c_out
        layers += [wrap(nn.Conv2d(c_in, 2 * c_in, 3, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
        layers.append(wrap(nn.Conv2d(2 * c_in, 1, 3, padding=1)))
        self.layers = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, output: torch.Tensor, mask_image: torch.Tensor | None = None):
        """Patch logits of `output` (N, out_channels, S, S) given its condition `image` (and `mask_image`)."""
        condition = condition_input(image, mask_image, self.config.sample_size, self.config.mask_channel)
        return self.layers(torch.cat([condition, output], dim=1))


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


"""Unconditional GAN sampling: images = G(z), z ~ N(0, I)."""

import torch
from diffusers.image_processor import PipelineImageInput



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


"""Class-conditional GAN sampling (Mirza & Osindero 2014): images = G(z, y) for the class labels y you ask for."""

import numpy as np
import torch
from diffusers.image_processor import PipelineImageInput



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


"""An autoencoder's decoder used as a generator, plus encode / reconstruct helpers.

Latent prior: after training, a Gaussian N(mean, L L^T) is fitted to the codes of the training images and stored
in the model (`ConvAutoencoder.fit_latent_prior`). Sampling draws eps ~ N(0, I) and decodes mean + L eps, so the
`latents` this pipeline takes and `encode` returns live in that whitened, standard-normal space: `encode` followed by
`__call__(latents=...)` reconstructs, and interpolating between two encodings stays on the data's code distribution.
"""

import numpy as np
import PIL.Image
import torch



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


"""Image-to-image translation with an image-conditional GAN (pix2pix, Isola et al. 2017): super-resolution,
inpainting, denoising, or any paired task: images = G(image, mask_image, z)."""

import torch
from diffusers.image_processor import PipelineImageInput



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
