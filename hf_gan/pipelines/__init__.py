from .pipeline_autoencoder import AutoencoderPipeline
from .pipeline_conditional_gan import ConditionalGANPipeline
from .pipeline_gan import GANPipeline

__all__ = ["AutoencoderPipeline", "ConditionalGANPipeline", "GANPipeline"]
