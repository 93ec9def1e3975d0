from .autoencoder import ConvAutoencoder
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .modeling_utils import SafetensorsModelMixin
from .resnet_gan import ResNetDiscriminator, ResNetGenerator


__all__ = [
    "ConvAutoencoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "SafetensorsModelMixin",
]
