"""The GPU path: run where CUDA is (skipped elsewhere, CI included). Tiny models; the figures they guard are in the
README's "On a GPU" section, measured with benchmarks/training_throughput.py and benchmarks/pipeline_overhead.py."""

import os
import subprocess
import sys

import pytest
import torch
from test_training import TINY_GAN, synthetic_digits, weights, write_idx

from hf_gan import ConditionalGANPipeline
from hf_gan.training.utils import IndexBatcher, TrainingState


ZOO_CGAN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "model_zoo", "mnist-cgan")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist_raw")
    images, labels = synthetic_digits(n=96)
    write_idx(folder, "train", images, labels, compress=True)
    return str(folder)


def run(out, data, *flags):
    """A cGAN run in its own process (accelerate fixes mixed precision once per process)."""
    command = [sys.executable, "-m", "hf_gan.training.train_gan", "--dataset_name", data, "--output_dir", out]
    result = subprocess.run([*command, *TINY_GAN, *flags], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_a_cpu_generator_gives_the_same_images_on_cpu_and_gpu():
    pipe = ConditionalGANPipeline.from_pretrained(ZOO_CGAN)
    labels = list(range(10)) * 4
    on_cpu = pipe(class_labels=labels, generator=torch.Generator().manual_seed(3), output_type="pt").images
    pipe.to("cuda")
    on_gpu = pipe(class_labels=labels, generator=torch.Generator().manual_seed(3), output_type="pt").images
    # equal up to float rounding (cuDNN may convolve in TF32) on images in [0, 1]
    assert (on_gpu.cpu() - on_cpu).abs().max() < 1e-2
    # a CUDA generator is reproducible, but draws other numbers than a CPU one (Philox, not Mersenne Twister)
    first, again = (
        pipe(class_labels=labels, generator=torch.Generator("cuda").manual_seed(3), output_type="pt").images
        for _ in range(2)
    )
    assert torch.equal(first, again)
    assert (first.cpu() - on_cpu).abs().max() > 0.1


def test_training_data_noise_and_batches_stay_on_the_gpu():
    state = TrainingState(0, {}, {}, device=torch.device("cuda"))
    assert state.noise.device.type == "cuda"
    batcher = IndexBatcher(96, 8, seed=0, device=torch.device("cuda"))
    assert batcher.indices(0).device.type == "cuda"


@pytest.mark.parametrize("precision", ["no", "bf16", "fp16"])
def test_gpu_training_in_each_precision_keeps_fp32_weights_and_resumes_exactly(precision, idx_folder, tmp_path):
    flags = ["--mixed_precision", precision, "--checkpointing_steps", "3", "--model", "cgan"]
    straight = run(str(tmp_path / "straight"), idx_folder, *flags, "--max_train_steps", "6")
    resumed = str(tmp_path / "resumed")
    run(resumed, idx_folder, *flags, "--max_train_steps", "3")
    run(resumed, idx_folder, *flags, "--max_train_steps", "6", "--resume_from_checkpoint", "latest")
    a, b = weights(straight), weights(resumed)
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in a.values() if v.is_floating_point())
    # cuDNN's backward convolutions may add in another order from run to run: equal up to rounding
    assert max((a[k] - b[k]).abs().max().item() for k in a if a[k].is_floating_point()) < 1e-4


def test_a_gpu_checkpoint_does_not_resume_on_the_cpu(idx_folder, tmp_path):
    out = run(str(tmp_path / "run"), idx_folder, "--checkpointing_steps", "2", "--max_train_steps", "2")
    command = [sys.executable, "-m", "hf_gan.training.train_gan", "--dataset_name", idx_folder, "--output_dir", out]
    flags = [*TINY_GAN, "--checkpointing_steps", "2", "--max_train_steps", "4", "--resume_from_checkpoint", "latest"]
    cpu_only = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([*command, *flags], capture_output=True, text=True, timeout=300, env=cpu_only)
    assert result.returncode != 0 and "another kind of device" in result.stderr, result.stderr[-3000:]
    assert os.path.isdir(os.path.join(out, "checkpoint-2"))  # nothing lost
