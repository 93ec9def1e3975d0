"""hf_gan: GANs, conditional GANs and autoencoders as Hugging Face diffusers pipelines."""

from .models import ConvAutoencoder, DCGANDiscriminator, DCGANGenerator, SafetensorsModelMixin
from .pipelines import AutoencoderPipeline, ConditionalGANPipeline, GANPipeline, HfGanPipeline
from .diffusers_registration import register_with_diffusers

__version__ = "0.1.0"

register_with_diffusers()

__all__ = [
    "AutoencoderPipeline",
    "ConditionalGANPipeline",
    "ConvAutoencoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "GANPipeline",
    "HfGanPipeline",
    "SafetensorsModelMixin",
]
