"""The base of every hf_gan model: a diffusers ModelMixin that loads safetensors weights strictly and nothing else."""

from diffusers import ModelMixin


class _ModelType(type):
    """Makes a class also accept instances of its re-executed copies as its own. diffusers executes a repository's
    code module anew for each component it loads (trust_remote_code), so a remote pipeline's components are instances
    of new class objects of the same module and name; isinstance (diffusers' type check of components, the
    pipelines' own) should treat those as the class they are."""

    def __instancecheck__(cls, instance):
        return super().__instancecheck__(instance) or any(
            (base.__module__, base.__qualname__) == (cls.__module__, cls.__qualname__) for base in type(instance).__mro__
        )


class SafetensorsModelMixin(ModelMixin, metaclass=_ModelType):
    """`from_pretrained` reads safetensors only (never pickled `.bin` files), whichever entry point calls it, and
    refuses weights that miss tensors or carry extra ones, instead of leaving layers randomly initialised."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        if kwargs.get("use_safetensors") is False:
            raise ValueError(f"{cls.__name__} loads safetensors weights only: drop use_safetensors=False.")
        kwargs["use_safetensors"] = True
        return_loading_info = kwargs.pop("output_loading_info", False)
        where = f"{pretrained_model_name_or_path}/{kwargs['subfolder']}" if kwargs.get("subfolder") else pretrained_model_name_or_path
        try:
            model, loading_info = super().from_pretrained(pretrained_model_name_or_path, output_loading_info=True, **kwargs)
            problems = {k: v for k, v in loading_info.items() if k != "error_msgs" and v}
            if problems:
                raise ValueError(f"the weights do not match the model's config: {problems}")
        except (OSError, ValueError, RuntimeError) as error:
            cause = f" ({error.__cause__})" if error.__cause__ else ""
            raise type(error)(
                f"Could not load {cls.__name__} from '{where}': {error}{cause}\n"
                "The weight file may be truncated or tampered with, or config.json may not match it: re-download it "
                "(force_download=True) or re-save the model with save_pretrained."
            ) from error
        return (model, loading_info) if return_loading_info else model
