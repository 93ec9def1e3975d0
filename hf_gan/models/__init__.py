from .autoencoder import ConvAutoencoder
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .modeling_utils import SafetensorsModelMixin


__all__ = ["ConvAutoencoder", "DCGANDiscriminator", "DCGANGenerator", "SafetensorsModelMixin"]
