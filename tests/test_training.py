"""hf_gan.training.train_gan and train_autoencoder on tiny synthetic datasets: a few steps each."""

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import datasets
import numpy as np
import PIL.Image
import pytest
import torch
from conftest import accelerate_launch
from safetensors.torch import load_file

from hf_gan import AutoencoderPipeline, ConditionalGANPipeline, GANPipeline
from hf_gan.data import DatasetError, load_image_dataset, prepare_image_dataset
from hf_gan.training import train_autoencoder, train_gan
from hf_gan.training.checkpointing import read_manifest
from hf_gan.training.utils import (
    TrainingDiverged,
    TrainingState,
    after_step,
    check_finite,
    read_preset,
    update_ema,
)
from hf_gan.visuals import pipeline_grid


TINY_GAN = [
    "--latent_dim",
    "8",
    "--generator_channels",
    "4",
    "--discriminator_channels",
    "4",
    "--train_batch_size",
    "8",
    "--logging_steps",
    "1",
    "--sample_every",
    "0",
    "--num_threads",
    "1",
]
TINY_AE = [
    "--latent_dim",
    "4",
    "--base_channels",
    "4",
    "--train_batch_size",
    "8",
    "--logging_steps",
    "1",
    "--sample_every",
    "0",
    "--num_threads",
    "1",
]
CHECKPOINT_FILES = {
    "generator.safetensors",
    "discriminator.safetensors",
    "ema_generator.safetensors",
    "optimizer-generator.safetensors",
    "optimizer-generator.json",
    "optimizer-discriminator.safetensors",
    "optimizer-discriminator.json",
    "state.json",
    "rng-0.json",
    "manifest.json",
}


def synthetic_digits(n=48, size=8, num_classes=3, seed=0):
    """uint8 images (n, size, size) whose class sets which rows are bright, and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % num_classes
    images = rng.integers(0, 60, (n, size, size), dtype=np.uint8)
    for i, label in enumerate(labels):
        images[i, label * size // num_classes : (label + 1) * size // num_classes] += 180
    return images, labels


def write_idx(folder, prefix, images, labels, compress):
    """The MNIST idx format: magic (0, 0, 8, ndim), big-endian sizes, then bytes."""
    opener = gzip.open if compress else open
    ext = ".gz" if compress else ""
    with opener(os.path.join(folder, f"{prefix}-images-idx3-ubyte{ext}"), "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in images.shape) + images.tobytes())
    with opener(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{ext}"), "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + len(labels).to_bytes(4, "big") + labels.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist_raw")
    images, labels = synthetic_digits()
    write_idx(folder, "train", images, labels, compress=True)
    write_idx(folder, "t10k", images[:12], labels[:12], compress=False)
    return str(folder)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imagefolder")
    images, labels = synthetic_digits()
    for i, (image, label) in enumerate(zip(images, labels)):
        os.makedirs(folder / ["cat", "dog", "owl"][label], exist_ok=True)
        PIL.Image.fromarray(image).save(folder / ["cat", "dog", "owl"][label] / f"{i}.png")
    return str(folder)


def run_gan(tmp_path, data, *flags, name="run"):
    out = str(tmp_path / name)
    train_gan.main(["--dataset_name", data, "--output_dir", out, *TINY_GAN, *flags])
    return out


def weights(folder):
    return {
        k: v
        for sub in ("generator", "discriminator")
        for k, v in load_file(os.path.join(folder, sub, "diffusion_pytorch_model.safetensors")).items()
    }


# -- data sources -------------------------------------------------------------------------------------------------


def test_idx_files_read_with_the_schema_of_ylecun_mnist(idx_folder):
    train = load_image_dataset(idx_folder, "train")
    test = load_image_dataset(idx_folder, "test")
    assert set(train.features) == {"image", "label"} and isinstance(train.features["image"], datasets.Image)
    assert train.features["label"].names == ["0", "1", "2"]
    assert len(train) == 48 and len(test) == 12
    images, labels = synthetic_digits()
    np.testing.assert_array_equal(np.asarray(train[5]["image"]), images[5])
    assert train[5]["label"] == labels[5]


def test_idx_files_found_in_torchvision_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = synthetic_digits(n=10)
    write_idx(raw, "train", images, labels, compress=False)
    assert len(load_image_dataset(str(tmp_path))) == 10


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    images, labels = synthetic_digits(n=10)
    write_idx(tmp_path, "train", images, labels, compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DatasetError, match="is truncated"):
        load_image_dataset(str(tmp_path))


@pytest.mark.parametrize("source", ["imagefolder", "parquet", "save_to_disk", "save_to_disk_dict"])
def test_every_data_source_gives_images_and_label_names(source, image_folder, tmp_path):
    if source == "imagefolder":
        path = image_folder
    else:
        dataset = load_image_dataset(image_folder)
        if source == "parquet":
            path = str(tmp_path / "data.parquet")
            dataset.to_parquet(path)
        elif source == "save_to_disk":
            path = str(tmp_path / "saved")
            dataset.save_to_disk(path)
        else:
            path = str(tmp_path / "saved_dict")
            datasets.DatasetDict({"train": dataset}).save_to_disk(path)
    data = prepare_image_dataset(load_image_dataset(path), require_labels=True)
    assert data.images.shape == (48, 1, 8, 8) and data.images.dtype == torch.uint8
    assert data.label_names == ["cat", "dog", "owl"]
    assert torch.bincount(data.labels).tolist() == [16, 16, 16]


def test_columns_are_detected_or_named(tmp_path):
    images, labels = synthetic_digits(n=12)
    dataset = datasets.Dataset.from_dict(
        {"picture": [PIL.Image.fromarray(i) for i in images], "digit": labels.tolist()},
        features=datasets.Features({"picture": datasets.Image(), "digit": datasets.ClassLabel(names=["a", "b", "c"])}),
    )
    data = prepare_image_dataset(dataset)  # found by feature type
    assert data.label_names == ["a", "b", "c"]
    with pytest.raises(DatasetError, match="no label column 'label'"):
        prepare_image_dataset(dataset, label_column="label")
    with pytest.raises(DatasetError, match="no image column 'img'"):
        prepare_image_dataset(dataset, image_column="img")


def test_grayscale_stays_one_channel_unless_asked_and_rgb_is_three(image_folder):
    dataset = load_image_dataset(image_folder)
    assert prepare_image_dataset(dataset).images.shape[1] == 1
    assert prepare_image_dataset(dataset, num_channels=3).images.shape[1] == 3
    rgb = dataset.map(lambda row: {"image": row["image"].convert("RGB")})
    assert prepare_image_dataset(rgb).images.shape[1] == 3
    assert prepare_image_dataset(dataset, resolution=16).images.shape[2:] == (16, 16)


# -- training -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("objective", ["minimax", "non_saturating", "hinge"])
@pytest.mark.parametrize("model", ["gan", "cgan"])
def test_each_objective_and_model_trains_and_saves_a_loadable_pipeline(model, objective, idx_folder, tmp_path):
    out = run_gan(
        tmp_path,
        idx_folder,
        "--model",
        model,
        "--objective",
        objective,
        "--max_train_steps",
        "3",
        "--d_steps",
        "2",
        "--r1_gamma",
        "1.0" if objective == "hinge" else "0",
    )
    pipe = (ConditionalGANPipeline if model == "cgan" else GANPipeline).from_pretrained(out)
    assert pipe.discriminator is not None
    results = json.load(open(os.path.join(out, "train_results.json")))
    assert all(np.isfinite(v) for v in results.values()) and 0 <= results["d_real"] <= 1
    if model == "cgan":
        assert pipe.id2label == {0: "0", 1: "1", 2: "2"}
    assert pipe(**({"class_labels": [0, 1]} if model == "cgan" else {"batch_size": 2})).images[0].size == (8, 8)


def test_stronger_conditioning_options_train_and_round_trip(idx_folder, tmp_path):
    out = run_gan(
        tmp_path,
        idx_folder,
        "--model",
        "cgan",
        "--max_train_steps",
        "2",
        "--class_loss_weight",
        "1.0",
        "--class_conditional_norm",
        "--conditioning",
        "concat",
    )
    pipe = ConditionalGANPipeline.from_pretrained(out)
    assert pipe.generator.config.class_conditional_norm and pipe.discriminator.config.auxiliary_classifier
    assert pipe.discriminator.config.conditioning == "concat"
    with pytest.raises(ValueError, match="--class_loss_weight needs a class-conditional model"):
        run_gan(tmp_path, idx_folder, "--model", "gan", "--class_loss_weight", "1.0", name="bad")


def test_cgan_takes_label_names_and_grid_has_one_row_per_class(image_folder, tmp_path):
    out = run_gan(tmp_path, image_folder, "--model", "cgan", "--max_train_steps", "2")
    pipe = ConditionalGANPipeline.from_pretrained(out)
    assert pipe.id2label == {0: "cat", 1: "dog", 2: "owl"}
    assert PIL.Image.open(os.path.join(out, "samples", "step_000002.png")).height == 3 * (8 + 2)
    card_grid = np.asarray(PIL.Image.open(os.path.join(out, "samples.png")))
    assert np.array_equal(card_grid, np.asarray(pipeline_grid(pipe)))  # the labelled grid, a row per class
    card = open(os.path.join(out, "README.md")).read()
    assert "ConditionalGANPipeline.from_pretrained" in card and "conditional-gan" in card


def test_training_changes_the_weights_and_ema_is_what_gets_saved(idx_folder, tmp_path):
    ema = run_gan(tmp_path, idx_folder, "--max_train_steps", "4", "--ema_decay", "0.5", name="ema")
    raw = run_gan(tmp_path, idx_folder, "--max_train_steps", "4", "--no_ema", name="raw")
    init = run_gan(tmp_path, idx_folder, "--max_train_steps", "1", "--no_ema", "--generator_lr", "0", name="init")
    w_ema, w_raw, w_init = weights(ema), weights(raw), weights(init)
    key = "decoder.project.0.weight"
    assert not torch.equal(w_raw[key], w_init[key])
    assert not torch.equal(w_ema[key], w_raw[key])  # the EMA average, not the last iterate


def test_resume_reproduces_the_uninterrupted_run(idx_folder, tmp_path):
    common = ["--model", "cgan", "--checkpointing_steps", "3", "--d_steps", "2", "--checkpoints_total_limit", "5"]
    straight = run_gan(tmp_path, idx_folder, *common, "--max_train_steps", "6", name="straight")
    stopped = run_gan(tmp_path, idx_folder, *common, "--max_train_steps", "3", name="stopped")
    assert os.path.isdir(os.path.join(stopped, "checkpoint-3"))
    resumed = run_gan(
        tmp_path, idx_folder, *common, "--max_train_steps", "6", "--resume_from_checkpoint", "latest", name="stopped"
    )
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_learning_rates_decay_linearly_and_a_resumed_run_follows_the_same_schedule(idx_folder, tmp_path):
    flags = ["--checkpointing_steps", "3", "--max_train_steps", "6", "--lr_decay_steps", "4", "--generator_lr", "4e-4"]
    straight = run_gan(tmp_path, idx_folder, *flags, name="straight")
    # the last of the 6 steps runs at 1/4 of the rate; step 3 still at the full one
    for step, lr in ((3, 4e-4), (6, 1e-4)):
        saved = json.load(open(os.path.join(straight, f"checkpoint-{step}", "optimizer-generator.json")))
        assert saved["param_groups"][0]["lr"] == pytest.approx(lr)
    shutil.copytree(
        os.path.join(straight, "checkpoint-3"), tmp_path / "resumed" / "checkpoint-3"
    )  # as if stopped there
    resumed = run_gan(tmp_path, idx_folder, *flags, "--resume_from_checkpoint", "latest", name="resumed")
    a, b = weights(straight), weights(resumed)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_checkpoint_limit_and_a_killed_run_leaves_only_complete_checkpoints(idx_folder, tmp_path):
    out = str(tmp_path / "killed")
    command = [
        sys.executable,
        "-m",
        "hf_gan.training.train_gan",
        "--dataset_name",
        idx_folder,
        "--output_dir",
        out,
        *TINY_GAN,
        "--max_train_steps",
        "100000",
        "--checkpointing_steps",
        "2",
        "--checkpoints_total_limit",
        "2",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while (
        time.time() < deadline
        and len([n for n in os.listdir(out) if n.startswith("checkpoint-")] if os.path.isdir(out) else []) < 3
    ):
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    complete = sorted(
        (n for n in os.listdir(out) if re.fullmatch(r"checkpoint-\d+", n)),  # not .tmp / .deleting (killed mid-way)
        key=lambda n: int(n.split("-")[1]),
    )
    assert 1 <= len(complete) <= 2  # the total limit rotates old ones away
    for name in complete:
        assert CHECKPOINT_FILES == set(os.listdir(os.path.join(out, name))), name
        read_manifest(os.path.join(out, name))  # every file matches its SHA-256
    last = int(complete[-1].split("-")[1])
    train_gan.main(
        [
            "--dataset_name",
            idx_folder,
            "--output_dir",
            out,
            *TINY_GAN,
            "--max_train_steps",
            str(last + 2),
            "--checkpointing_steps",
            "2",
            "--resume_from_checkpoint",
            "latest",
        ]
    )
    assert ConditionalGANPipeline.from_pretrained(out).generator is not None
    assert os.path.isdir(os.path.join(out, f"checkpoint-{last + 2}"))


def test_two_processes_with_accelerate_on_cpu(idx_folder, tmp_path):
    """accelerate launch --multi_gpu --num_processes 2 runs on a CPU with gloo when ACCELERATE_USE_CPU is set (without
    it, each process trains alone as process 0 of 1); each process takes its slice of the same global batches.

    The result is not compared with the one-process run's weights: G's BatchNorm statistics are per process, and
    with Adam that moves the weights by as much as the whole run does (measured: max |one - two| = 0.8 to 1.06 times
    max |trained - initial| over seeds 0 to 3), so no tolerance could tell a correct run from a broken one. What the
    test can tell: the checkpoints, which refuse replicas whose weights differ, i.e. gradients that were not
    averaged."""
    flags = [*TINY_GAN, "--dataset_name", idx_folder, "--max_train_steps", "4", "--discriminator_norm", "none"]
    flags += ["--checkpointing_steps", "2"]  # each checkpoint checks that the processes' weights agree
    two = str(tmp_path / "two")
    result = subprocess.run(
        [
            *accelerate_launch(2),
            "-m",
            "hf_gan.training.train_gan",
            *flags,
            "--output_dir",
            two,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ACCELERATE_USE_CPU": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "batch 8 on 2 process(es)" in result.stderr
    assert ConditionalGANPipeline.from_pretrained(two).generator is not None
    assert os.path.isdir(os.path.join(two, "checkpoint-4"))


def train_in_subprocess(out, data, *flags, env=None):
    """A run in its own process: accelerate's mixed precision and compile settings are fixed once per process. Returns
    what it wrote to stderr."""
    command = [sys.executable, "-m", "hf_gan.training.train_gan", "--dataset_name", data, "--output_dir", out]
    flags = [*TINY_GAN, "--max_train_steps", "3", "--no_ema", "--checkpointing_steps", "2", *flags]
    result = subprocess.run([*command, *flags], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


@pytest.fixture(scope="module")
def fp32_run(idx_folder, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("fp32") / "run")
    train_in_subprocess(out, idx_folder)
    return out


@pytest.fixture(scope="module")
def bf16_run(idx_folder, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("bf16") / "run")
    train_in_subprocess(out, idx_folder, "--mixed_precision", "bf16")
    return out


def largest_difference(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a if a[k].is_floating_point())


def test_bf16_autocast_on_cpu_changes_the_arithmetic_not_the_weights_dtype(fp32_run, bf16_run):
    assert ConditionalGANPipeline.from_pretrained(bf16_run).generator.dtype == torch.float32  # weights stay fp32
    # bf16 rounding moved the weights (measured 7e-4 after 3 steps): autocast ran; and only by rounding
    assert 1e-5 < largest_difference(weights(bf16_run), weights(fp32_run)) < 0.05


def test_compiled_training_equals_eager_and_checkpoints_plain_weights(idx_folder, fp32_run, tmp_path):
    out = str(tmp_path / "compiled")
    train_in_subprocess(out, idx_folder, "--compile")
    assert largest_difference(weights(out), weights(fp32_run)) < 1e-4  # measured 1.2e-7
    for name in ("generator", "discriminator"):
        saved = load_file(os.path.join(out, "checkpoint-2", f"{name}.safetensors"))
        assert saved.keys() == load_file(os.path.join(fp32_run, "checkpoint-2", f"{name}.safetensors")).keys()


@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() != "AVX512",
    reason="torch 2.13's compiled bf16 CPU code failed here below AVX512 (ATEN_CPU_CAPABILITY=avx2: NaN losses or a "
    "crash; default: C++ that does not build), with or without hf_gan's static shapes",
)
def test_compiled_bf16_training_keeps_static_shapes_and_equals_eager(idx_folder, bf16_run, tmp_path):
    out = str(tmp_path / "compiled")
    logs = train_in_subprocess(
        out, idx_folder, "--mixed_precision", "bf16", "--compile", env={**os.environ, "TORCH_LOGS": "dynamic"}
    )
    # with autocast, G and D share accelerate's forward wrapper: dynamo must not take their inputs for one input of
    # changing shape and compile D for any image size
    assert "as dynamic" not in logs
    # fused bf16 kernels round differently: measured up to 4.0e-4 (seeds 0-2)
    assert largest_difference(weights(out), weights(bf16_run)) < 1e-2


def test_the_throughput_benchmark_times_the_second_half_of_both_loops_with_warm_up(tmp_path):
    images, labels = synthetic_digits(n=128, size=28, num_classes=10)
    write_idx(tmp_path, "train", images, labels, compress=True)
    script = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "training_throughput.py"
    )
    command = [sys.executable, script, "--dataset_name", str(tmp_path), "--steps", "3", "--rounds", "1", "--warm_up"]
    result = subprocess.run(
        [*command, "--output_dir", str(tmp_path / "runs")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"no: train_gan +\d+ img/s, bare PyTorch loop +\d+ img/s, ratio \d\.\d+", result.stdout)
    assert "3 steps x 1 rounds, eager, after 3 untimed" in result.stdout
    # the script trained 6 steps and was timed from the checkpoint of step 3
    assert os.path.isdir(tmp_path / "runs" / "checkpoint-3") and os.path.isdir(tmp_path / "runs" / "checkpoint-6")


def test_the_training_clock_leaves_out_the_time_spent_writing_sample_grids_and_checkpoints():
    # the benchmark's warm-up half ends with a checkpoint that the bare loop does not write
    never = 10**6
    args = SimpleNamespace(
        checkpointing_steps=never, save_every=0, sample_every=1, logging_steps=never, max_train_steps=2
    )
    state = TrainingState(0, {}, {})
    quiet = SimpleNamespace(is_main_process=True, log=lambda *a, **k: None, set_postfix=lambda *a: None)
    state.start_clock()
    for state.step in (1, 2):
        after_step(args, quiet, None, state, quiet, lambda: {"loss_d": 1.0}, lambda step: time.sleep(0.5), None)
    assert state.train_seconds < 0.25, state.train_seconds  # two grids took 0.5 s each; the steps took none


def test_cuda_graph_needs_a_gpu_and_is_refused_on_the_cpu_before_any_work(idx_folder, tmp_path):
    out = str(tmp_path / "graphed")
    with pytest.raises(ValueError, match="--cuda_graph needs a single CUDA GPU; this run has 1 process.* on cpu"):
        train_gan.main(["--dataset_name", idx_folder, "--output_dir", out, *TINY_GAN, "--cuda_graph"])
    assert not os.path.exists(os.path.join(out, "checkpoint-1"))
    with pytest.raises(ValueError, match="does not capture the R1 penalty"):
        train_gan.main(["--dataset_name", idx_folder, "--output_dir", out, "--cuda_graph", "--r1_gamma", "1"])


def test_the_ema_takes_its_decay_as_a_number_or_as_a_tensor_alike():
    torch.manual_seed(0)
    model, by_number, by_tensor = (torch.nn.Linear(3, 2) for _ in range(3))
    by_tensor.load_state_dict(by_number.state_dict())
    update_ema(by_number, model, 0.9)
    update_ema(by_tensor, model, torch.tensor(0.9))  # a CUDA graph's input
    for number, tensor, target in zip(by_number.parameters(), by_tensor.parameters(), model.parameters()):
        torch.testing.assert_close(tensor, number)
        assert not torch.equal(number, target)


def test_push_to_hub_at_the_end_never_writes_the_token(idx_folder, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download

    token = "hf_secret_token_do_not_write"
    out = run_gan(
        tmp_path,
        idx_folder,
        "--max_train_steps",
        "2",
        "--push_to_hub",
        "--hub_model_id",
        "user/trained-cgan",
        "--hub_token",
        token,
        "--checkpointing_steps",
        "1",
    )
    pipe = ConditionalGANPipeline.from_pretrained("user/trained-cgan")
    assert pipe.id2label[2] == "2"
    files = {f.rfilename for f in HfApi().model_info("user/trained-cgan").siblings}
    assert {"README.md", "samples.png", "model_index.json"} <= files
    assert not any(f.startswith("checkpoint-") for f in files)
    for root, _, names in os.walk(out):
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                assert token.encode() not in f.read(), os.path.join(root, name)
    assert token not in open(hf_hub_download("user/trained-cgan", "README.md")).read()


def test_autoencoder_trains_and_fits_its_prior(idx_folder, tmp_path):
    out = str(tmp_path / "ae")
    train_autoencoder.main(["--dataset_name", idx_folder, "--output_dir", out, *TINY_AE, "--max_train_steps", "5"])
    pipe = AutoencoderPipeline.from_pretrained(out)
    assert pipe.autoencoder.latent_mean.abs().sum() > 0  # fitted, not the N(0, I) default
    assert not torch.equal(pipe.autoencoder.latent_scale_tril, torch.eye(4))
    assert pipe(batch_size=2, output_type="np").images.shape == (2, 8, 8, 1)
    assert "AutoencoderPipeline.from_pretrained" in open(os.path.join(out, "README.md")).read()


def test_config_preset_sets_defaults_and_flags_override(idx_folder, tmp_path):
    preset = tmp_path / "preset.yaml"
    preset.write_text(f"dataset_name: {idx_folder}\nmodel: gan\nmax_train_steps: 2\nobjective: minimax\n")
    out = run_gan(tmp_path, idx_folder, "--config", str(preset), "--max_train_steps", "1")
    args = json.load(open(os.path.join(out, "training_args.json")))
    assert args["model"] == "gan" and args["objective"] == "minimax" and args["max_train_steps"] == 1
    preset.write_text("learning_rate_typo: 1\n")
    with pytest.raises(SystemExit):
        run_gan(tmp_path, idx_folder, "--config", str(preset), name="typo")


def test_a_preset_with_a_base_is_the_base_with_its_own_settings_on_top(tmp_path):
    variant = tmp_path / "variant.yaml"
    variant.write_text("base: mnist_cgan\nmax_train_steps: 7\n")
    assert read_preset(str(variant)) == {**read_preset("mnist_cgan"), "max_train_steps": 7}


def test_the_long_cgan_preset_is_the_short_one_with_a_longer_schedule_and_a_stronger_class_term():
    changed = {
        "train_batch_size",
        "max_train_steps",
        "lr_decay_steps",
        "class_loss_weight",
        "output_dir",
        "checkpointing_steps",
        "sample_every",
    }
    long, short = read_preset("mnist_cgan_long"), read_preset("mnist_cgan")
    assert {k: v for k, v in long.items() if k not in changed} == {k: v for k, v in short.items() if k not in changed}
    assert long["max_train_steps"] * long["train_batch_size"] > short["max_train_steps"] * short["train_batch_size"]
    assert long["class_loss_weight"] > short["class_loss_weight"] > 0


# -- bad input: a clear error before any training step ---------------------------------------------------------------


def test_missing_and_empty_datasets(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        run_gan(tmp_path, str(tmp_path / "nowhere" / "data"), "--max_train_steps", "1")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="is empty"):
        run_gan(tmp_path, str(tmp_path / "empty"), "--max_train_steps", "1")


def test_conditional_training_without_labels(tmp_path):
    images, _ = synthetic_digits(n=16)
    for i, image in enumerate(images):
        PIL.Image.fromarray(image).save(tmp_path / f"{i}.png")
    with pytest.raises(DatasetError, match="needs class labels.*--model gan"):
        run_gan(tmp_path, str(tmp_path), "--model", "cgan", "--max_train_steps", "1")
    out = run_gan(tmp_path, str(tmp_path), "--model", "gan", "--max_train_steps", "1")  # fine unconditionally
    assert GANPipeline.from_pretrained(out) is not None


def test_mixed_sizes_and_modes(tmp_path):
    (tmp_path / "a").mkdir()
    for i in range(8):
        PIL.Image.new("L" if i % 2 else "RGB", (8 + i % 2, 8 + i % 2), 100).save(tmp_path / "a" / f"{i}.png")
    with pytest.raises(DatasetError, match="several sizes.*--resolution"):
        run_gan(tmp_path, str(tmp_path), "--max_train_steps", "1", "--model", "gan")
    out = run_gan(tmp_path, str(tmp_path), "--max_train_steps", "1", "--resolution", "8", "--model", "gan")
    assert GANPipeline.from_pretrained(out).generator.config.out_channels == 3  # mixed modes become RGB


def test_output_dir_holding_another_run_is_refused(idx_folder, tmp_path):
    out = run_gan(tmp_path, idx_folder, "--max_train_steps", "1")
    before = weights(out)
    with pytest.raises(FileExistsError, match="already holds a training run.*--resume_from_checkpoint latest"):
        run_gan(tmp_path, idx_folder, "--max_train_steps", "1", "--seed", "5")
    assert all(torch.equal(before[k], v) for k, v in weights(out).items())


def test_divergence_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(idx_folder, tmp_path):
    out = str(tmp_path / "diverge")
    run_gan(tmp_path, idx_folder, "--max_train_steps", "2", "--checkpointing_steps", "2", name="diverge")
    good = load_file(os.path.join(out, "checkpoint-2", "generator.safetensors"))
    with pytest.raises(TrainingDiverged, match="diverged at step .*last good checkpoint is .*checkpoint-2"):
        run_gan(
            tmp_path,
            idx_folder,
            "--max_train_steps",
            "10",
            "--checkpointing_steps",
            "2",
            "--resume_from_checkpoint",
            "latest",
            "--discriminator_lr",
            "inf",
            "--generator_lr",
            "inf",
            name="diverge",
        )
    assert os.listdir(out).count("checkpoint-2") == 1
    kept = load_file(os.path.join(out, "checkpoint-2", "generator.safetensors"))
    assert all(torch.equal(good[k], kept[k]) for k in good)
    assert not any(n.startswith("checkpoint-") and n != "checkpoint-2" for n in os.listdir(out))


def test_divergence_before_the_first_checkpoint_says_to_start_again(tmp_path):
    with pytest.raises(TrainingDiverged, match="step 1: .*no checkpoint was written: start again with lower"):
        check_finite({"loss_d": float("nan")}, 1, SimpleNamespace(output_dir=str(tmp_path), run_id="run"))


def test_bad_arguments_fail_before_training(idx_folder, tmp_path):
    with pytest.raises(SystemExit):
        run_gan(tmp_path, idx_folder, "--push_to_hub")  # no --hub_model_id
    with pytest.raises(ValueError, match="fewer than one batch"):
        run_gan(tmp_path, idx_folder, "--train_batch_size", "4096")
    with pytest.raises(FileNotFoundError, match="does not exist: pass a checkpoint folder or 'latest'"):
        run_gan(tmp_path, idx_folder, "--resume_from_checkpoint", str(tmp_path / "no-such-checkpoint"))


def test_tensorboard_gets_losses_and_sample_grids(idx_folder, tmp_path):
    out = run_gan(tmp_path, idx_folder, "--max_train_steps", "2", "--report_to", "tensorboard", "--sample_every", "1")
    events = [
        os.path.join(root, f)
        for root, _, files in os.walk(os.path.join(out, "logs"))
        for f in files
        if "tfevents" in f
    ]
    assert events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(os.path.dirname(events[0])).Reload()
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(accumulator.Tags()["scalars"])
    assert "samples" in accumulator.Tags()["images"]
    assert sorted(os.listdir(os.path.join(out, "samples"))) == ["step_000001.png", "step_000002.png"]


def test_fine_tune_from_a_hub_repository(idx_folder, tmp_path):
    run_gan(
        tmp_path,
        idx_folder,
        "--max_train_steps",
        "2",
        "--push_to_hub",
        "--hub_model_id",
        "user/finetune-source",
        name="src",
    )
    source = ConditionalGANPipeline.from_pretrained("user/finetune-source")
    out = run_gan(
        tmp_path,
        idx_folder,
        "--pretrained_model_name_or_path",
        "user/finetune-source",
        "--max_train_steps",
        "1",
        "--generator_lr",
        "0",
        "--discriminator_lr",
        "0",
        "--no_ema",
        name="tuned",
    )
    tuned = ConditionalGANPipeline.from_pretrained(out)
    for name, parameter in source.generator.named_parameters():  # lr 0: the weights it started from
        torch.testing.assert_close(dict(tuned.generator.named_parameters())[name], parameter, rtol=0, atol=0)
    with pytest.raises(ValueError, match="makes 1x8px images for 3 classes; the dataset has 1x16px"):
        run_gan(
            tmp_path,
            idx_folder,
            "--pretrained_model_name_or_path",
            "user/finetune-source",
            "--resolution",
            "16",
            name="bad",
        )


def test_infogan_code_is_learned_to_be_recoverable_and_the_grid_has_one_row_per_code(idx_folder, tmp_path):
    flags = [
        "--model",
        "gan",
        "--categorical_code",
        "3",
        "--class_conditional_norm",
        "--max_train_steps",
        "40",
        "--generator_lr",
        "2e-3",
        "--discriminator_lr",
        "2e-3",
        "--no_ema",
    ]
    accuracies = {}
    for weight in ("0", "1"):
        out = run_gan(
            tmp_path, idx_folder, *flags, "--code_loss_weight", weight, "--sample_every", "40", name=f"w{weight}"
        )
        pipe = GANPipeline.from_pretrained(out)
        assert pipe.generator.config.categorical_code == 3 and pipe.discriminator.config.categorical_code == 3
        latents = torch.randn(300, 8, generator=torch.manual_seed(0))
        with torch.no_grad():
            _, code_logits = pipe.discriminator(pipe.generator(latents), return_code_logits=True)
        accuracies[weight] = (code_logits.argmax(1) == pipe.generator.split_code(latents)[1]).float().mean().item()
    assert PIL.Image.open(os.path.join(out, "samples", "step_000040.png")).height == 3 * (8 + 2)
    card_grid = np.asarray(PIL.Image.open(os.path.join(out, "samples.png")))
    assert np.array_equal(card_grid, np.asarray(pipeline_grid(pipe)))  # the labelled grid, a row per code value
    assert os.path.isfile(os.path.join(out, "interpolation.png"))
    card = open(os.path.join(out, "README.md")).read()
    assert "infogan" in card and "GANPipeline.from_pretrained" in card
    # D's head reads the code off G's images once both are trained for it, and not without that loss
    # Bounds between the worst values measured over seeds 0-7 (weight 1: >= 0.55; weight 0: <= 0.363),
    # docs/experiments.md
    assert accuracies["1"] > 0.45 and accuracies["0"] < 0.45, accuracies  # chance: 1/3
    with pytest.raises(ValueError, match="--categorical_code is for an unconditional model"):
        run_gan(tmp_path, idx_folder, "--model", "cgan", "--categorical_code", "3", name="bad")
