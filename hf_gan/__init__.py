"""hf_gan: GANs, conditional GANs and autoencoders as Hugging Face diffusers pipelines.

Importing hf_gan changes nothing in diffusers: a saved hf_gan pipeline loads with plain diffusers through the code
module it carries (trust_remote_code=True), and with hf_gan's own `from_pretrained` without running any code.
"""

from .models import (
    ConvAutoencoder,
    DCGANDiscriminator,
    DCGANGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
    SafetensorsModelMixin,
)
from .pipelines import AutoencoderPipeline, ConditionalGANPipeline, GANPipeline, HfGanPipeline


__version__ = "0.1.0"

__all__ = [
    "AutoencoderPipeline",
    "ConditionalGANPipeline",
    "ConvAutoencoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "GANPipeline",
    "HfGanPipeline",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "SafetensorsModelMixin",
]
