from .autoencoder import ConvAutoencoder
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .modeling_utils import SafetensorsModelMixin
from .pix2pix import PatchGANDiscriminator, UNetGenerator


__all__ = [
    "ConvAutoencoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "PatchGANDiscriminator",
    "SafetensorsModelMixin",
    "UNetGenerator",
]
