"""Test setup: private Hugging Face and hf_gan caches, and a local Hub server that the real huggingface_hub client
talks to.

huggingface_hub reads HF_ENDPOINT when it is imported, so the server starts here, before any test module imports it.
"""

import os
import sys
import tempfile


sys.path.insert(0, os.path.dirname(__file__))
from hub_server import serve  # noqa: E402


HUB_SERVER, HUB_STATE = serve()
HUB_URL = f"http://127.0.0.1:{HUB_SERVER.server_port}"
os.environ.update(
    HF_ENDPOINT=HUB_URL,
    HF_HUB_DISABLE_XET="1",
    HF_HOME=tempfile.mkdtemp(prefix="hf_gan_tests_home_"),
    HF_GAN_CACHE=tempfile.mkdtemp(prefix="hf_gan_tests_cache_"),  # reference features of test sets stay out of ~
    HF_TOKEN="hf_test_token",
    HF_HUB_DISABLE_TELEMETRY="1",
    HF_HUB_DISABLE_PROGRESS_BARS="1",
    DIFFUSERS_VERBOSITY="error",
)
os.environ.pop("HF_HUB_OFFLINE", None)

import pytest  # noqa: E402
import torch  # noqa: E402

from hf_gan import (  # noqa: E402
    AutoencoderPipeline,
    ConditionalGANPipeline,
    ConvAutoencoder,
    DCGANDiscriminator,
    DCGANGenerator,
    GANPipeline,
)


TINY = dict(sample_size=8, base_channels=4)
NUM_CLASSES = 3


def accelerate_launch(num_processes: int = 1) -> list:
    """`accelerate launch` as a user types it, in full precision and without a config file; two or more processes
    run as --multi_gpu, which on a CPU means gloo."""
    several = ["--multi_gpu", "--main_process_port", "0"] if num_processes > 1 else []
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *several,
        "--num_processes",
        str(num_processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]


def make_pipeline(kind: str, seed: int = 0):
    """A tiny seeded pipeline of `kind` ("gan", "cgan" or "autoencoder"), in eval mode, with non-trivial norms."""
    torch.manual_seed(seed)
    if kind == "gan":
        pipe = GANPipeline(
            DCGANGenerator(latent_dim=8, out_channels=1, **TINY), DCGANDiscriminator(in_channels=1, **TINY)
        )
    elif kind == "cgan":
        pipe = ConditionalGANPipeline(
            DCGANGenerator(latent_dim=8, out_channels=3, num_classes=NUM_CLASSES, class_conditional_norm=True, **TINY),
            DCGANDiscriminator(in_channels=3, num_classes=NUM_CLASSES, **TINY),
            id2label={0: "cat", 1: "dog", 2: "bird"},
        )
    elif kind == "autoencoder":
        autoencoder = ConvAutoencoder(latent_dim=4, channels=1, **TINY)
        autoencoder.fit_latent_prior(torch.randn(64, 4) * 2 + 1)
        pipe = AutoencoderPipeline(autoencoder)
    else:
        raise ValueError(kind)
    # Random BatchNorm statistics, so that eval-mode sampling is not trivially the identity normalisation.
    for module in pipe.components.values():
        if module is None:
            continue
        for buffer_name, buffer in module.named_buffers():
            if buffer_name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
            elif buffer_name.endswith("running_mean"):
                buffer.normal_(0, 0.1)
        module.eval()
    return pipe


def call_args(kind: str, count: int) -> dict:
    """Arguments asking `kind`'s pipeline for `count` images."""
    if kind == "cgan":
        return {"class_labels": [i % NUM_CLASSES for i in range(count)]}
    return {"batch_size": count}


PIPELINE_CLASSES = {"gan": GANPipeline, "cgan": ConditionalGANPipeline, "autoencoder": AutoencoderPipeline}


def images_pt(pipe, kind: str, count: int = 3, seed: int = 0, **kwargs) -> torch.Tensor:
    """`count` seeded images from `kind`'s pipeline, as a tensor."""
    return pipe(**call_args(kind, count), generator=torch.manual_seed(seed), output_type="pt", **kwargs).images


@pytest.fixture(params=["gan", "cgan", "autoencoder"])
def kind(request):
    return request.param


@pytest.fixture(autouse=True)
def torch_threads_as_the_session_started():
    """In-process training sets torch's thread count (--num_threads); a later test that compares its images with a
    subprocess's (which starts with torch's default) would then sum in another order and differ in the last bits."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
