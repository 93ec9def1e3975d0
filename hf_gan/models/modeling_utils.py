"""The base of every hf_gan model: a diffusers ModelMixin that reads safetensors weights and nothing else."""

from diffusers import ModelMixin


class SafetensorsModelMixin(ModelMixin):
    """`from_pretrained` never falls back to pickled `.bin` weights, whichever entry point calls it."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        if kwargs.get("use_safetensors") is False:
            raise ValueError(f"{cls.__name__} loads safetensors weights only: drop use_safetensors=False.")
        kwargs["use_safetensors"] = True
        try:
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        except (OSError, ValueError, RuntimeError) as error:
            where = pretrained_model_name_or_path
            if kwargs.get("subfolder"):
                where = f"{where}/{kwargs['subfolder']}"
            raise type(error)(
                f"Could not load {cls.__name__} from '{where}': {error}\n"
                "The weight file may be truncated or tampered with, or config.json may not match it (shapes): "
                "re-download it (force_download=True) or re-save the model with save_pretrained."
            ) from error
