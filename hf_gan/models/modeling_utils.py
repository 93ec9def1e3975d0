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
