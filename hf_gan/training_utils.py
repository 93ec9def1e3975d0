"""Pieces the training scripts share: presets, deterministic batches, atomic checkpoints, EMA, sample grids."""

import argparse
import math
import os
import re
import shutil
import time

import numpy as np
import PIL.Image
import torch
import yaml

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def parse_args_with_config(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """`--config preset.yaml` sets defaults for the other arguments; flags on the command line still win."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    if known.config:
        with open(known.config, encoding="utf-8") as file:
            preset = yaml.safe_load(file) or {}
        valid = {action.dest for action in parser._actions}
        unknown = sorted(set(preset) - valid)
        if unknown:
            parser.error(f"{known.config} sets unknown options {unknown}")
        parser.set_defaults(**preset)
    return parser.parse_args(argv)


class IndexBatcher:
    """Global batches of dataset indices, a fresh permutation each epoch, drawn from (seed, epoch) alone.

    Batch number b is the same whatever happened before it, so a resumed run reads exactly the batches the
    uninterrupted run would have, and every process takes its own slice of the same global batch.
    """

    def __init__(self, num_samples: int, global_batch_size: int, seed: int, rank: int = 0, num_processes: int = 1):
        if global_batch_size % num_processes:
            raise ValueError(f"train_batch_size={global_batch_size} must be divisible by the {num_processes} processes.")
        if num_samples < global_batch_size:
            raise ValueError(f"The dataset has {num_samples} images, fewer than one batch of {global_batch_size}: lower --train_batch_size.")
        self.num_samples, self.global_batch_size, self.seed = num_samples, global_batch_size, seed
        self.local_batch_size = global_batch_size // num_processes
        self.rank = rank
        self.batches_per_epoch = num_samples // global_batch_size
        self._epoch, self._permutation = None, None

    def indices(self, batch_number: int) -> torch.Tensor:
        epoch, position = divmod(batch_number, self.batches_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._epoch, self._permutation = epoch, torch.randperm(self.num_samples, generator=generator)
        start = position * self.global_batch_size + self.rank * self.local_batch_size
        return self._permutation[start : start + self.local_batch_size]


class TrainingState:
    """Step counters and the noise generator, checkpointed with the models (accelerate's register_for_checkpointing)."""

    def __init__(self, seed: int):
        self.step = 0  # optimiser steps of the generator (or of the autoencoder)
        self.batches_seen = 0
        self.train_seconds = 0.0  # wall-clock time spent in training steps, summed over resumed runs
        self.noise = torch.Generator().manual_seed(seed)

    def state_dict(self) -> dict:
        return {"step": self.step, "batches_seen": self.batches_seen, "train_seconds": self.train_seconds,
                "noise": self.noise.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.batches_seen = int(state["step"]), int(state["batches_seen"])
        self.train_seconds = float(state["train_seconds"])
        self.noise.set_state(state["noise"])

    def start_clock(self) -> None:
        self._clock = time.perf_counter()

    def tick(self) -> None:
        """Adds the time since the last tick (or `start_clock`) to `train_seconds`."""
        now = time.perf_counter()
        self.train_seconds += now - self._clock
        self._clock = now


def list_checkpoints(output_dir: str) -> list[str]:
    """Complete checkpoints, oldest first. An interrupted save leaves only a `.tmp` folder, which is ignored."""
    if not os.path.isdir(output_dir):
        return []
    found = [(int(m.group(1)), name) for name in os.listdir(output_dir) if (m := CHECKPOINT_RE.match(name))]
    return [os.path.join(output_dir, name) for _, name in sorted(found)]


def save_checkpoint(accelerator, output_dir: str, step: int, total_limit: int | None) -> str:
    """Saves the accelerator state atomically: written to `checkpoint-N.tmp`, then renamed once complete."""
    final = os.path.join(output_dir, f"checkpoint-{step}")
    staging = final + ".tmp"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(staging)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if os.path.isdir(final):
            shutil.rmtree(final)
        os.replace(staging, final)
        if total_limit:
            for old in list_checkpoints(output_dir)[:-total_limit]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def resolve_resume_checkpoint(resume_from: str | None, output_dir: str) -> str | None:
    if resume_from is None:
        return None
    if resume_from == "latest":
        checkpoints = list_checkpoints(output_dir)
        return checkpoints[-1] if checkpoints else None
    if not os.path.isdir(resume_from):
        raise FileNotFoundError(f"--resume_from_checkpoint {resume_from} does not exist: pass a checkpoint folder or 'latest'.")
    return resume_from


def check_output_dir(output_dir: str, resuming: bool, overwrite: bool) -> None:
    """Refuses to train into a folder that holds another run, so nothing already written is lost."""
    if resuming or overwrite or not os.path.isdir(output_dir):
        return
    occupied = [n for n in os.listdir(output_dir) if n == "model_index.json" or CHECKPOINT_RE.match(n)]
    if occupied:
        raise FileExistsError(
            f"{output_dir} already holds a training run ({', '.join(sorted(occupied)[:3])}). Resume it with "
            "--resume_from_checkpoint latest, pick another --output_dir, or pass --overwrite_output_dir."
        )


@torch.no_grad()
def update_ema(ema_model: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for parameters; buffers (BatchNorm statistics) are copied."""
    for ema_param, param in zip(ema_model.parameters(), model.parameters()):
        ema_param.lerp_(param.detach(), 1 - decay)
    for ema_buffer, buffer in zip(ema_model.buffers(), model.buffers()):
        ema_buffer.copy_(buffer)


def image_grid(images: torch.Tensor, rows: int) -> PIL.Image.Image:
    """(N, C, H, W) floats in [-1, 1] -> one PIL image with `rows` rows, 2-pixel gaps."""
    n, c, h, w = images.shape
    cols = math.ceil(n / rows)
    pixels = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    grid = np.zeros((rows * (h + 2), cols * (w + 2), c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        grid[r * (h + 2) + 1 : r * (h + 2) + 1 + h, col * (w + 2) + 1 : col * (w + 2) + 1 + w] = pixels[i].transpose(1, 2, 0)
    return PIL.Image.fromarray(grid.squeeze(-1) if c == 1 else grid)


def log_image(accelerator, name: str, image: PIL.Image.Image, step: int) -> None:
    """Sends a sample grid to every active tracker that takes images."""
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            array = np.asarray(image)
            tracker.writer.add_image(name, array if array.ndim == 3 else array[..., None], step, dataformats="HWC")
        elif tracker.name == "wandb":
            import wandb

            tracker.log({name: wandb.Image(image)}, step=step)
        elif tracker.name == "trackio":
            import trackio

            tracker.log({name: trackio.Image(image)}, step=step)
