from .autoencoder import ConvAutoencoder
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .modeling_utils import SafetensorsModelMixin
from .pix2pix import PatchGANDiscriminator, UNetGenerator
from .resnet_gan import ResNetDiscriminator, ResNetGenerator


__all__ = [
    "ConvAutoencoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "PatchGANDiscriminator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "SafetensorsModelMixin",
    "UNetGenerator",
]
