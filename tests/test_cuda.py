"""The GPU path: run where CUDA is (skipped elsewhere, CI included). Tiny models; the figures they guard are in
docs/benchmarks.md's "On a GPU" section, measured with benchmarks/training_throughput.py and
benchmarks/pipeline_overhead.py."""

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from test_streaming import stream_args, write_shards
from test_training import TINY_GAN, synthetic_digits, weights, write_idx

from hf_gan import ConditionalGANPipeline
from hf_gan.streaming import load_streaming_data
from hf_gan.training.train_gan import cuda_graphed, make_graph_safe, set_learning_rates
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


def test_a_stream_on_the_gpu_comes_through_pinned_memory_into_gpu_slots_and_resumes_exactly(tmp_path):
    shards = write_shards(tmp_path / "shards", 4)
    gpu = SimpleNamespace(process_index=0, num_processes=1, device=torch.device("cuda"))
    data, batcher = load_streaming_data(stream_args(shards, dataloader_num_workers=1), gpu, False)
    assert next(iter(batcher.loader))["images"].is_pinned()  # so that the copy to the GPU can be asynchronous
    assert data.images.device.type == "cuda" and batcher.indices(0).device.type == "cuda"
    flags = ["--streaming", "--dataloader_num_workers", "1", "--checkpointing_steps", "2", "--model", "cgan"]
    straight = run(str(tmp_path / "straight"), shards, *flags, "--max_train_steps", "4")
    resumed = str(tmp_path / "resumed")
    run(resumed, shards, *flags, "--max_train_steps", "2")
    run(resumed, shards, *flags, "--max_train_steps", "4", "--resume_from_checkpoint", "latest")
    a, b = weights(straight), weights(resumed)
    assert max((a[k] - b[k]).abs().max().item() for k in a if a[k].is_floating_point()) < 1e-4


def test_a_gpu_checkpoint_does_not_resume_on_the_cpu(idx_folder, tmp_path):
    out = run(str(tmp_path / "run"), idx_folder, "--checkpointing_steps", "2", "--max_train_steps", "2")
    command = [sys.executable, "-m", "hf_gan.training.train_gan", "--dataset_name", idx_folder, "--output_dir", out]
    flags = [*TINY_GAN, "--checkpointing_steps", "2", "--max_train_steps", "4", "--resume_from_checkpoint", "latest"]
    cpu_only = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([*command, *flags], capture_output=True, text=True, timeout=300, env=cpu_only)
    assert result.returncode != 0 and "another kind of device" in result.stderr, result.stderr[-3000:]
    assert os.path.isdir(os.path.join(out, "checkpoint-2"))  # nothing lost


def test_a_cuda_graphed_step_follows_the_rate_schedule_the_noise_stream_and_its_inputs():
    x = torch.randn(16, 4, device="cuda")

    def setup():
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1).cuda()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.1, fused=True)
        noise = torch.Generator("cuda").manual_seed(0)

        def step(inputs, scale):
            noisy = inputs + torch.randn(inputs.shape, device="cuda", generator=noise)
            loss = (model(noisy) * scale).square().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss

        return model, optimizer, noise, step

    eager_model, eager_optimizer, _, eager_step = setup()
    graph_model, graph_optimizer, noise, graph_step = setup()
    make_graph_safe(graph_optimizer, torch.device("cuda"))
    graph_step = cuda_graphed(graph_step, noise, warmup_steps=2)
    args = SimpleNamespace(max_train_steps=10, lr_decay_steps=10)
    for step in range(10):  # steps 0-1 eager, 2 captured, 2-9 replayed
        for optimizer in (eager_optimizer, graph_optimizer):
            set_learning_rates(args, SimpleNamespace(step=step), {optimizer: 0.1})
        inputs = x * (step + 1)
        eager_loss = eager_step(inputs, 1.0 + step).clone()
        torch.testing.assert_close(graph_step(inputs, 1.0 + step), eager_loss)
    torch.testing.assert_close(graph_model.weight, eager_model.weight)
    assert float(graph_optimizer.param_groups[0]["lr"]) == pytest.approx(0.01)


@pytest.mark.parametrize("precision", ["no", "bf16", "fp16"])
def test_a_cuda_graph_run_trains_as_the_eager_one_and_resumes_exactly(precision, idx_folder, tmp_path):
    flags = ["--mixed_precision", precision, "--checkpointing_steps", "5", "--model", "cgan", "--logging_steps", "3"]
    flags += ["--class_loss_weight", "0.1", "--class_conditional_norm", "--max_train_steps", "10"]
    decaying = ["--lr_decay_steps", "8"]  # the rates change every step from step 2 on: a graph must follow them
    eager = run(str(tmp_path / "eager"), idx_folder, *flags, *decaying)
    graphed = run(str(tmp_path / "graphed"), idx_folder, *flags, *decaying, "--cuda_graph")
    # resumed against straight without the decay, which depends on --max_train_steps (5 in the first half)
    straight = run(str(tmp_path / "straight"), idx_folder, *flags, "--cuda_graph")
    resumed = str(tmp_path / "resumed")
    run(resumed, idx_folder, *flags, "--cuda_graph", "--max_train_steps", "5")
    run(resumed, idx_folder, *flags, "--cuda_graph", "--resume_from_checkpoint", "latest")
    largest = {
        name: max((a[k] - b[k]).abs().max().item() for k in a if a[k].is_floating_point())
        for name, (a, b) in {
            "graph vs eager": (weights(eager), weights(graphed)),
            "resumed vs straight": (weights(straight), weights(resumed)),
        }.items()
    }
    print(precision, largest)
    assert all(torch.isfinite(v).all() for v in weights(graphed).values() if v.is_floating_point())
    # the same kernels and noise, replayed: measured 1.2e-7 (fp32), 1.9e-6 (bf16), 2.4e-7 (fp16) on an H200
    assert largest["graph vs eager"] < 1e-4 and largest["resumed vs straight"] < 1e-4, largest
