from .pipeline_autoencoder import AutoencoderPipeline
from .pipeline_conditional_gan import ConditionalGANPipeline
from .pipeline_gan import GANPipeline
from .pipeline_image_to_image_gan import ImageToImageGANPipeline
from .pipeline_utils import HfGanPipeline


__all__ = ["AutoencoderPipeline", "ConditionalGANPipeline", "GANPipeline", "HfGanPipeline", "ImageToImageGANPipeline"]
