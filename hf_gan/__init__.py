"""hf_gan: GANs, conditional GANs and autoencoders as Hugging Face diffusers pipelines.

Importing hf_gan changes nothing in diffusers: a saved hf_gan pipeline loads with plain diffusers through the code
module it carries (trust_remote_code=True), and with hf_gan's own `from_pretrained` without running any code.
"""

from .models import (
    ConvAutoencoder,
    DCGANDiscriminator,
    DCGANGenerator,
    PatchGANDiscriminator,
    ResNetDiscriminator,
    ResNetGenerator,
    SafetensorsModelMixin,
    UNetGenerator,
)
from .pipelines import (
    AutoencoderPipeline,
    ConditionalGANPipeline,
    GANPipeline,
    HfGanPipeline,
    ImageToImageGANPipeline,
)


__version__ = "0.1.0"

__all__ = [
    "AutoencoderPipeline",
    "ConditionalGANPipeline",
    "ConvAutoencoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "GANPipeline",
    "HfGanPipeline",
    "ImageToImageGANPipeline",
    "PatchGANDiscriminator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "SafetensorsModelMixin",
    "UNetGenerator",
]
