"""Makes diffusers treat hf_gan as a library it knows, so Hub repos of hf_gan pipelines load without remote code.

diffusers (>= 0.22) refuses to download a repository whose model_index.json names a library missing from its
`LOADABLE_CLASSES` table, and `DiffusionPipeline.from_pretrained` looks the pipeline class up on the `diffusers`
module. Importing hf_gan adds hf_gan's model base class to that table and its pipelines to that module; it replaces
nothing diffusers already has.
"""

import diffusers
from diffusers.pipelines import pipeline_loading_utils

from .models import SafetensorsModelMixin
from .pipelines import __all__ as PIPELINE_NAMES
from . import pipelines

LOAD_METHODS = ["save_pretrained", "from_pretrained"]


def register_with_diffusers() -> None:
    loadable = {SafetensorsModelMixin.__name__: LOAD_METHODS}
    pipeline_loading_utils.LOADABLE_CLASSES.setdefault("hf_gan", loadable)
    pipeline_loading_utils.ALL_IMPORTABLE_CLASSES.update(loadable)
    for name in PIPELINE_NAMES:
        if not hasattr(diffusers, name):
            setattr(diffusers, name, getattr(pipelines, name))
