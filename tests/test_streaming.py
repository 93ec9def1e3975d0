"""hf_gan.streaming on tiny parquet shards: what the stream promises (every sample once per epoch, an order drawn
from the seed alone, disjoint parts per process), exact resume, the memory-budget switch, and its faults."""

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import datasets
import numpy as np
import PIL.Image
import pytest
import torch
from conftest import accelerate_launch
from safetensors.torch import load_file

from hf_gan.data import DatasetError, load_image_dataset, prepare_image_dataset
from hf_gan.streaming import load_streaming_data
from hf_gan.training import train_gan


TINY = ["--latent_dim", "8", "--generator_channels", "4", "--discriminator_channels", "4", "--train_batch_size", "8"]
TINY += [
    "--logging_steps",
    "1",
    "--sample_every",
    "0",
    "--num_threads",
    "1",
    "--streaming",
    "--shuffle_buffer_size",
    "16",
]
ROWS_PER_SHARD = 12


def write_shards(folder, num_shards, labels=None, broken_row=None, features=None):
    """`num_shards` parquet files of 12 random 8x8 RGB PNGs each, labels row % 3 (a ClassLabel) unless given;
    `broken_row`'s image is bytes that are no image."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    n = num_shards * ROWS_PER_SHARD
    labels = [i % 3 for i in range(n)] if labels is None else labels
    features = features or datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=["a", "b", "c"])}
    )
    images = [PIL.Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)) for _ in range(n)]
    rows = {"image": images, "label": labels}
    table = datasets.Dataset.from_dict(rows, features=features)
    if broken_row is not None:
        table = table.cast_column("image", datasets.Image(decode=False))
        table = table.map(
            lambda row, i: {"image": {"bytes": b"no png" if i == broken_row else row["image"]["bytes"], "path": None}},
            with_indices=True,
        )
        table = table.cast_column("image", features["image"])
    for shard in range(num_shards):
        rows = range(shard * ROWS_PER_SHARD, (shard + 1) * ROWS_PER_SHARD)
        table.select(rows).to_parquet(os.path.join(folder, f"train-{shard:02d}.parquet"))
    return str(folder)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return write_shards(tmp_path_factory.mktemp("shards"), 4)


def stream_args(folder, **overrides):
    args = dict(
        streaming=True,
        in_memory_max_gb=None,
        dataset_name=folder,
        dataset_split="train",
        cache_dir=None,
        image_column=None,
        label_column=None,
        num_channels=None,
        resolution=None,
        max_train_samples=None,
        num_classes=None,
        seed=0,
        shuffle_buffer_size=16,
        train_batch_size=8,
        dataloader_num_workers=0,
        bad_images="stop",
        d_steps=1,
    )
    return SimpleNamespace(**{**args, **overrides})


def process(rank=0, num_processes=1):
    return SimpleNamespace(process_index=rank, num_processes=num_processes, device=torch.device("cpu"))


def stream_batches(folder, count, rank=0, num_processes=1, **overrides):
    """The first `count` batches a process's DataLoader hands out."""
    _, batcher = load_streaming_data(stream_args(folder, **overrides), process(rank, num_processes), False)
    iterator = iter(batcher.loader)
    return [next(iterator) for _ in range(count)]


def row_ids(folder):
    """Each image's bytes -> its row in the in-memory dataset, and that dataset."""
    memory = prepare_image_dataset(load_image_dataset(folder))
    return {memory.images[i].numpy().tobytes(): i for i in range(len(memory))}, memory


def test_each_epoch_streams_every_sample_once_decoded_as_in_memory_in_a_seeded_order(shards):
    ids, memory = row_ids(shards)
    batches = stream_batches(shards, 12)  # two epochs of 6 batches of 8
    assert [b["position"] for b in batches] == [[e, j] for e in range(2) for j in range(6)]
    epochs = [
        [ids[image.numpy().tobytes()] for b in batches[e * 6 : e * 6 + 6] for image in b["images"]] for e in (0, 1)
    ]
    for order in epochs:  # the same pixels and labels as the in-memory path decodes, each row once
        assert sorted(order) == list(range(48))
    for b in batches:
        rows = [ids[image.numpy().tobytes()] for image in b["images"]]
        assert torch.equal(b["labels"], memory.labels[rows])
    assert epochs[0] != epochs[1] and epochs[0] != sorted(epochs[0])  # shuffled, anew each epoch
    # the order is the seed's, whatever the number of workers decoding it
    with_workers = stream_batches(shards, 12, dataloader_num_workers=2)
    assert all(torch.equal(a["images"], b["images"]) for a, b in zip(batches, with_workers))
    again, other_seed = stream_batches(shards, 6), stream_batches(shards, 6, seed=1)
    assert all(torch.equal(a["images"], b["images"]) for a, b in zip(batches, again))
    assert not all(torch.equal(a["images"], b["images"]) for a, b in zip(batches, other_seed))


@pytest.mark.parametrize("num_shards", [4, 3])  # whole shards per process; every other sample (3 shards)
def test_two_processes_stream_disjoint_parts_of_each_epoch(tmp_path, num_shards):
    folder = write_shards(tmp_path / "data", num_shards)
    ids, _ = row_ids(folder)
    per_epoch = num_shards * ROWS_PER_SHARD // 2 // 4  # batches of 4 per process and epoch
    seen = []
    for rank in (0, 1):
        batches = stream_batches(folder, per_epoch, rank, 2)
        assert {b["position"][0] for b in batches} == {0}
        seen.append({ids[image.numpy().tobytes()] for b in batches for image in b["images"]})
    assert not seen[0] & seen[1]
    assert len(seen[0]) == len(seen[1]) == per_epoch * 4  # each its own rows (those past its last full batch left out)


def test_the_dataset_is_streamed_when_its_decoded_size_exceeds_the_memory_budget(shards, caplog):
    caplog.set_level(logging.INFO, logger="hf_gan.streaming")
    decoded_gb = 48 * 3 * 8 * 8 / 1e9
    below = stream_args(shards, streaming=None, in_memory_max_gb=decoded_gb * 0.99)
    assert load_streaming_data(below, process(), False)
    assert "more than the in-memory budget" in caplog.text and "streaming it" in caplog.text
    caplog.clear()
    assert (
        load_streaming_data(stream_args(shards, streaming=None, in_memory_max_gb=decoded_gb), process(), False) is None
    )
    assert "loading it into memory" in caplog.text
    assert load_streaming_data(stream_args(shards, streaming=False, in_memory_max_gb=0), process(), False) is None


def run_gan(out, data, *flags):
    train_gan.main(["--dataset_name", data, "--output_dir", str(out), *TINY, *flags])
    return str(out)


def weights(folder):
    names = ("generator", "discriminator")
    return {
        k: v
        for n in names
        for k, v in load_file(os.path.join(folder, n, "diffusion_pytorch_model.safetensors")).items()
    }


def assert_same_weights(a, b):
    a, b = weights(a), weights(b)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_a_resumed_stream_continues_mid_epoch_exactly_whatever_its_workers(shards, tmp_path):
    common = ["--model", "cgan", "--d_steps", "2", "--checkpointing_steps", "2", "--checkpoints_total_limit", "5"]
    # 6 batches an epoch: the checkpoint at step 2 is 4 batches in, and steps 3 to 5 cross into the next epoch
    straight = run_gan(tmp_path / "straight", shards, *common, "--max_train_steps", "5")
    stopped = run_gan(tmp_path / "stopped", shards, *common, "--max_train_steps", "2", "--dataloader_num_workers", "1")
    resumed = run_gan(stopped, shards, *common, "--max_train_steps", "5", "--resume_from_checkpoint", "latest")
    assert_same_weights(straight, resumed)


def test_a_streaming_run_killed_with_sigkill_resumes_to_the_uninterrupted_weights(shards, tmp_path):
    out = str(tmp_path / "killed")
    flags = [*TINY, "--model", "gan", "--checkpointing_steps", "2", "--dataloader_num_workers", "1"]
    command = [sys.executable, "-m", "hf_gan.training.train_gan", "--dataset_name", shards, "--output_dir", out]
    process = subprocess.Popen([*command, *flags, "--max_train_steps", "100000"], stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (os.path.isdir(out) and len(checkpoints(out)) >= 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    last = checkpoints(out)[-1]
    run_gan(
        out,
        shards,
        "--model",
        "gan",
        "--checkpointing_steps",
        "2",
        "--max_train_steps",
        str(last + 3),
        "--resume_from_checkpoint",
        "latest",
    )
    straight = run_gan(tmp_path / "straight", shards, "--model", "gan", "--max_train_steps", str(last + 3))
    assert_same_weights(straight, out)


def checkpoints(out):
    return sorted(int(n.split("-")[1]) for n in os.listdir(out) if re.fullmatch(r"checkpoint-\d+", n))


def test_a_label_out_of_range_deep_in_the_stream_stops_naming_it_and_checkpoints_the_steps_done(tmp_path):
    labels = [i % 3 for i in range(48)]
    labels[40] = 7
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    folder = write_shards(tmp_path / "data", 4, labels=labels, features=features)
    out = tmp_path / "run"
    with pytest.raises(
        DatasetError, match=r"label of sample \d+ of batch \d+ in epoch 0 .* is 7, outside 0..2"
    ) as error:
        run_gan(
            out,
            folder,
            "--model",
            "cgan",
            "--num_classes",
            "3",
            "--max_train_steps",
            "50",
            "--checkpointing_steps",
            "100",
        )
    step = int(re.search(r"The (\d+) steps done are saved", str(error.value)).group(1))
    assert step < 6 and os.path.isfile(out / f"checkpoint-{step}" / "stream-0.json")


def test_an_undecodable_image_stops_the_run_by_default_or_is_skipped_when_asked(tmp_path, caplog):
    folder = write_shards(tmp_path / "data", 4, broken_row=30)
    with pytest.raises(DatasetError, match=r"image of sample \d+ of batch \d+ in epoch 0 .* cannot be decoded"):
        run_gan(tmp_path / "stop", folder, "--model", "gan", "--max_train_steps", "6")
    caplog.set_level(logging.WARNING, logger="hf_gan.streaming")
    run_gan(tmp_path / "skip", folder, "--model", "gan", "--max_train_steps", "6", "--bad_images", "skip")
    assert "Skipping the undecodable image of sample" in caplog.text
    assert os.path.isfile(tmp_path / "skip" / "model_index.json")


def test_a_shard_that_disappears_mid_run_stops_with_a_clear_error_and_the_last_checkpoint(tmp_path):
    folder = write_shards(tmp_path / "data", 4)
    out = tmp_path / "run"

    def remove_a_shard_after_the_first_checkpoint():
        deadline = time.time() + 120
        while time.time() < deadline and not (out.is_dir() and checkpoints(out)):
            time.sleep(0.01)
        os.remove(os.path.join(folder, "train-02.parquet"))  # read again, at the latest, in the next epoch

    remover = threading.Thread(target=remove_a_shard_after_the_first_checkpoint)
    remover.start()
    with pytest.raises(DatasetError, match=r"could not read a shard in epoch \d+: .*train-02\.parquet") as error:
        run_gan(out, folder, "--model", "gan", "--checkpointing_steps", "2", "--max_train_steps", "100000")
    remover.join()
    step = int(re.search(r"The (\d+) steps done are saved", str(error.value)).group(1))
    assert os.path.isfile(out / f"checkpoint-{step}" / "stream-0.json")


def test_two_processes_launched_with_accelerate_each_stream_half_of_the_data(shards, tmp_path):
    """gloo on a CPU, as tests/test_training.py's two-process test: the checkpoints (which refuse replicas whose
    weights differ) record where each process's stream is; 48 rows split in two are 6 batches of 4 an epoch each, so
    8 steps end at batch 2 of epoch 1 (a process streaming all 48 rows would be at batch 8 of epoch 0)."""
    out = tmp_path / "two"
    flags = [*TINY, "--model", "gan", "--max_train_steps", "8", "--checkpointing_steps", "4"]
    flags += ["--discriminator_norm", "none", "--dataset_name", shards, "--output_dir", str(out)]
    command = [*accelerate_launch(2), "-m", "hf_gan.training.train_gan", *flags]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    for rank in (0, 1):
        position = json.loads((out / "checkpoint-8" / f"stream-{rank}.json").read_text())
        assert position == {"epoch": 1, "batch": 2, "num_processes": 2}


def test_a_fault_in_one_of_two_processes_stops_both_and_checkpoints_the_steps_done(tmp_path):
    """One process meets a bad label; both stop before the same step and checkpoint it together (a process stopping
    alone would leave the other waiting in the step's all-reduce)."""
    labels = [i % 3 for i in range(48)]
    labels[40] = 7
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    folder = write_shards(tmp_path / "data", 4, labels=labels, features=features)
    out = tmp_path / "two"
    flags = [*TINY, "--model", "cgan", "--num_classes", "3", "--max_train_steps", "50", "--checkpointing_steps", "100"]
    flags += ["--discriminator_norm", "none", "--dataset_name", folder, "--output_dir", str(out)]
    command = [*accelerate_launch(2), "-m", "hf_gan.training.train_gan", *flags]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode != 0
    assert re.search(r"label of sample \d+ of batch \d+ in epoch 0 .* is 7, outside 0..2", result.stderr)
    step = int(re.search(r"The (\d+) steps done are saved", result.stderr).group(1))
    assert step < 6  # each process's 24 rows are 6 batches of 4
    for rank in (0, 1):
        assert os.path.isfile(out / f"checkpoint-{step}" / f"stream-{rank}.json")


FAULTS_PER_ALLOCATION = """
import resource, sys, torch
from hf_gan.training.utils import keep_freed_memory
if sys.argv[1] == "kept":
    keep_freed_memory()
def step():  # a step's large activation, allocated, written and freed
    torch.empty(64 * 2**20, dtype=torch.uint8).fill_(1)
for _ in range(10):  # the heap grows over the first few (aligned blocks do not fit the freed ones until they merge)
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator settings")
def test_training_keeps_freed_memory_instead_of_faulting_it_in_again_every_step():
    """A streaming run spent 10x the system time of the in-memory one, re-faulting each step's activations (glibc
    hands blocks above its mmap threshold back to the kernel on free): train_gan's keep_freed_memory() stops that."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}

    def faults(mode):
        command = [sys.executable, "-c", FAULTS_PER_ALLOCATION, mode]
        return float(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)

    pages = 64 * 2**20 / os.sysconf("SC_PAGE_SIZE")
    assert faults("default") > 0.5 * pages  # each allocation faults its pages in again
    assert faults("kept") < 0.1 * pages  # the memory of the first one is reused
