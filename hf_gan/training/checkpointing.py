"""Checkpoints of a training run: accelerate's save_state / load_state, written atomically and rotated."""

import os
import re
import shutil

from accelerate.logging import get_logger

logger = get_logger(__name__)
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


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


def resume_if_asked(args, accelerator, state, learning_rates, extra_objects=()) -> None:
    """Registers the training state for checkpointing and restores the latest (or given) checkpoint if asked.

    `learning_rates` maps each optimizer to its --*_lr: they are applied after a resume, since the checkpoint's
    optimizer state would otherwise bring back the old ones (e.g. after a divergence, resuming with lower rates)."""
    for obj in (state, *extra_objects):
        accelerator.register_for_checkpointing(obj)
    checkpoint = resolve_resume_checkpoint(args.resume_from_checkpoint, args.output_dir)
    if checkpoint:
        accelerator.load_state(checkpoint)
        for optimizer, lr in learning_rates.items():
            for group in optimizer.param_groups:
                group["lr"] = lr
        logger.info(f"Resumed from {checkpoint} at step {state.step}", main_process_only=True)
    elif args.resume_from_checkpoint:
        logger.info(f"No checkpoint in {args.output_dir}: starting a new run", main_process_only=True)
