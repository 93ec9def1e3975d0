"""What train_gan and train_autoencoder share: presets and arguments, data, the state of a run, what follows each
step, and the end of a run (pipeline, sample grid, model card, push)."""

import argparse
import copy
import ctypes
import importlib.resources
import json
import logging
import math
import os
import sys
import time

import numpy as np
import PIL.Image
import psutil
import torch
import yaml
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import AutocastKwargs, ProjectConfiguration, TorchDynamoPlugin, set_seed
from tqdm.auto import tqdm

from ..data import DatasetError, load_image_dataset, prepare_image_dataset
from ..hub import push_folder
from ..model_card import write_model_card
from ..streaming import StreamingBatcher, load_streaming_data
from ..visuals import interpolation_frames, interpolation_strip, pipeline_grid, save_images
from .checkpointing import (
    CheckpointError,
    RunFolder,
    find_latest_checkpoint,
    load_checkpoint,
    load_process_state,
    save_checkpoint,
)


logger = get_logger(__name__)
# Never written to disk, logs, trackers or the model card.
SECRET_ARGUMENTS = ("hub_token",)
# How this invocation treats the output folder, not what the run is: left out of its recorded arguments.
FOLDER_ARGUMENTS = ("output_dir", "overwrite_output_dir", "resume_from_checkpoint", "config")
PRESETS = importlib.resources.files("hf_gan.training") / "configs"


# -- presets and arguments ------------------------------------------------------------------------------------------


def preset_names() -> list[str]:
    return sorted(entry.name.removesuffix(".yaml") for entry in PRESETS.iterdir() if entry.name.endswith(".yaml"))


def read_preset(name_or_path: str) -> dict:
    """A YAML file, or the name of a preset shipped with hf_gan (`mnist_cgan`, ...). A preset that sets `base: OTHER`
    is OTHER with its own settings on top, so that a variant states only what it changes."""
    if os.path.isfile(name_or_path):
        with open(name_or_path, encoding="utf-8") as file:
            preset = yaml.safe_load(file) or {}
    elif name_or_path in preset_names():
        preset = yaml.safe_load((PRESETS / f"{name_or_path}.yaml").read_text(encoding="utf-8")) or {}
    else:
        raise FileNotFoundError(
            f"--config {name_or_path}: no such file, and not one of the shipped presets "
            f"{preset_names()}. Pass a preset name or the path of a YAML file."
        )
    base = preset.pop("base", None)
    return {**read_preset(base), **preset} if base else preset


def parse_args_with_config(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """`--config preset` sets defaults for the other arguments; flags on the command line still win."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    if known.config:
        try:
            preset = read_preset(known.config)
        except FileNotFoundError as error:
            parser.error(str(error))
        valid = {action.dest for action in parser._actions}
        unknown = sorted(set(preset) - valid)
        if unknown:
            parser.error(f"{known.config} sets unknown options {unknown}")
        parser.set_defaults(**preset)
    return parser.parse_args(argv)


def add_common_arguments(parser, default_output_dir):
    parser.add_argument(
        "--config",
        help=f"a shipped preset ({', '.join(preset_names())}) or a YAML file; command-line flags override it",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset_name",
        required=False,
        help="Hub dataset id, image folder, parquet/arrow file, "
        "save_to_disk folder, or folder of MNIST idx files (relative to the working directory)",
    )
    data.add_argument("--dataset_split", default="train")
    data.add_argument("--image_column", help="default: the Image column, or one named image/img")
    data.add_argument("--label_column", help="default: the ClassLabel column, or one named label/labels")
    data.add_argument(
        "--num_classes",
        type=int,
        help="number of classes: needed for integer labels without names that are not exactly 0..K-1, "
        "and checked against the dataset's class names",
    )
    data.add_argument("--resolution", type=int, help="resize (short side) and centre-crop to this size")
    data.add_argument(
        "--num_channels",
        type=int,
        choices=[1, 3, 4],
        help="default: 1 for grayscale datasets, else 3 (transparent images composited on white); 4 keeps RGBA",
    )
    data.add_argument("--max_train_samples", type=int)
    data.add_argument("--cache_dir")
    data.add_argument(
        "--hub_dataset_id",
        help="the dataset's Hub id, for the model card's metadata (default: --dataset_name when it is one)",
    )
    run = parser.add_argument_group("run")
    run.add_argument("--output_dir", default=default_output_dir)
    run.add_argument(
        "--overwrite_output_dir",
        action="store_true",
        help="train into a folder that holds another run, after moving its contents into a "
        "previous-<time> folder inside it",
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--train_batch_size", type=int, default=128, help="global batch, split across processes")
    run.add_argument("--max_train_steps", type=int, default=2000)
    run.add_argument("--mixed_precision", choices=["no", "fp16", "bf16"], default="no")
    run.add_argument("--compile", action="store_true", help="torch.compile the networks (inductor)")
    run.add_argument(
        "--num_threads",
        type=int,
        help="torch CPU threads per process (default: the available cores divided by the processes on this machine)",
    )
    run.add_argument("--checkpointing_steps", type=int, default=500)
    run.add_argument("--checkpoints_total_limit", type=int, default=2)
    run.add_argument(
        "--resume_from_checkpoint",
        help="'latest' (the newest intact checkpoint of --output_dir's run) or a checkpoint folder",
    )
    run.add_argument("--save_every", type=int, default=0, help="also save the pipeline every N steps (0: at the end)")
    run.add_argument("--sample_every", type=int, default=500, help="save and log a sample grid every N steps")
    run.add_argument("--logging_steps", type=int, default=20)
    run.add_argument("--report_to", default="none", choices=["tensorboard", "trackio", "wandb", "none"])
    hub = parser.add_argument_group("hub")
    hub.add_argument("--push_to_hub", action="store_true")
    hub.add_argument("--hub_model_id", help="org/name of the repository to push to")
    hub.add_argument("--hub_private_repo", action="store_true")
    hub.add_argument("--hub_token", help="default: the logged-in token or HF_TOKEN; never saved")
    return parser


def prepare_run(parser, argv=None):
    """Parses and checks the arguments before any work, so that bad input fails fast."""
    args = parse_args_with_config(parser, argv)
    if not args.dataset_name:
        parser.error("--dataset_name is required (or a --config preset that sets it).")
    looks_like_path = args.dataset_name.startswith((".", "/", "~")) or args.dataset_name.count("/") > 1
    if looks_like_path and not os.path.exists(os.path.expanduser(args.dataset_name)):
        raise DatasetError(
            f"--dataset_name {args.dataset_name} does not exist (relative paths start from the "
            f"working directory, {os.getcwd()}): pass --dataset_name with a local folder or file, "
            "or a Hub dataset id such as ylecun/mnist."
        )
    if args.push_to_hub and not args.hub_model_id:
        parser.error("--push_to_hub needs --hub_model_id org/name.")
    if args.mixed_precision == "fp16" and not torch.cuda.is_available():
        parser.error("--mixed_precision fp16 needs a GPU (it uses loss scaling); on a CPU use bf16 or no.")
    for name in ("max_train_steps", "train_batch_size", "checkpointing_steps", "logging_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1.")
    set_cpu_threads(args.num_threads)
    keep_freed_memory()
    return args


def keep_freed_memory() -> None:
    """Has glibc's malloc keep freed memory for the next step instead of handing it back to the kernel.

    Each step allocates and frees the same large activations. With glibc's defaults these are mmap'ed or trimmed
    and faulted in again every step unless earlier large frees (an in-memory dataset's decoding) raised its dynamic
    thresholds: a streaming run then spent 10x the system time and trained 20 % fewer images/s than the same run in
    memory (docs/streaming.md). MALLOC_* or GLIBC_TUNABLES in the environment are left to rule; other C libraries
    are left alone."""
    if not sys.platform.startswith("linux") or "GLIBC_TUNABLES" in os.environ:
        return
    if any(name.startswith("MALLOC_") for name in os.environ):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, ...)
        return
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    libc.mallopt(M_MMAP_MAX, 0)  # large blocks from the heap, reused, rather than mmap'ed per allocation
    libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)  # the heap's free top kept for the next step


def set_cpu_threads(num_threads: int | None) -> None:
    """--num_threads, or the cores this process may use shared among the processes on this machine.

    `accelerate launch` sets OMP_NUM_THREADS=1 when it is unset, which would leave all but one core idle."""
    if num_threads is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        num_threads = max(1, cores // local_processes)
        if int(os.environ.get("LOCAL_RANK", 0)) == 0:
            logging.getLogger(__name__).warning(
                f"torch CPU threads per process: {num_threads} ({cores} cores, {local_processes} process(es) on this "
                "machine); --num_threads sets another count"
            )
    torch.set_num_threads(num_threads)


def make_accelerator(args, cuda_graph: bool = False) -> Accelerator:
    """The run's Accelerator (mixed precision, compilation, trackers, logging folder), with logging set up and the
    seed set, so that every process starts from the same weights. `cuda_graph`: the steps will be captured."""
    accelerator = Accelerator(
        mixed_precision=args.mixed_precision,
        # a CUDA graph cannot keep autocast's cache of cast weights (torch.cuda.graph's documentation)
        kwargs_handlers=[AutocastKwargs(cache_enabled=False)] if cuda_graph else None,
        # static shapes: with mixed precision G and D run through one forward wrapper of accelerate's, and dynamo's
        # automatic dynamic shapes took their different inputs for one input of changing size (D compiled for any
        # image size; a tiny bf16 run on a CPU aborted in that code)
        dynamo_plugin=TorchDynamoPlugin(backend="inductor" if args.compile else "no", dynamic=False),
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(
            project_dir=args.output_dir, logging_dir=os.path.join(args.output_dir, "logs")
        ),
    )
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.INFO)
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    set_seed(args.seed)
    return accelerator


def open_run_folder(args, accelerator) -> RunFolder:
    """Takes --output_dir for this run before any work: locks it, and checks that what is in it and the checkpoint to
    resume fit the arguments (see hf_gan.training.checkpointing)."""
    config = {k: v for k, v in vars(args).items() if k not in SECRET_ARGUMENTS + FOLDER_ARGUMENTS}
    return RunFolder(
        args.output_dir, config, accelerator, overwrite=args.overwrite_output_dir, resume=args.resume_from_checkpoint
    )


def init_trackers(args, accelerator) -> None:
    """Creates --output_dir and starts the trackers (TensorBoard, ...) with the run's arguments."""
    if accelerator.is_main_process:
        os.makedirs(args.output_dir, exist_ok=True)
        tracker_config = {
            k: v for k, v in vars(args).items() if k not in SECRET_ARGUMENTS and isinstance(v, (int, float, str, bool))
        }
        accelerator.init_trackers("hf_gan", config=tracker_config)


# -- data -----------------------------------------------------------------------------------------------------------


class IndexBatcher:
    """Global batches of dataset indices, a fresh permutation each epoch, drawn from (seed, epoch) alone.

    Batch number b is the same whatever happened before it, so a resumed run reads exactly the batches the
    uninterrupted run would have, and every process takes its own slice of the same global batch.
    """

    def __init__(
        self,
        num_samples: int,
        global_batch_size: int,
        seed: int,
        rank: int = 0,
        num_processes: int = 1,
        device: str | torch.device = "cpu",
    ):
        if global_batch_size % num_processes:
            raise ValueError(
                f"train_batch_size={global_batch_size} must be divisible by the {num_processes} processes."
            )
        if num_samples < global_batch_size:
            raise ValueError(
                f"The dataset has {num_samples} images, fewer than one batch of {global_batch_size}: "
                "lower --train_batch_size."
            )
        self.num_samples, self.global_batch_size, self.seed = num_samples, global_batch_size, seed
        self.local_batch_size = global_batch_size // num_processes
        self.rank, self.device = rank, device
        self.batches_per_epoch = num_samples // global_batch_size
        self._epoch, self._permutation = None, None

    def indices(self, batch_number: int) -> torch.Tensor:
        epoch, position = divmod(batch_number, self.batches_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            permutation = torch.randperm(self.num_samples, generator=generator).to(self.device)
            self._epoch, self._permutation = epoch, permutation
        start = position * self.global_batch_size + self.rank * self.local_batch_size
        return self._permutation[start : start + self.local_batch_size]


def load_training_data(args, accelerator, require_labels, may_stream=True):
    """The dataset in memory, and the batcher that hands this process its slice of each global batch; or, for a
    streaming run (train_gan's --streaming, or a dataset larger than --in_memory_max_gb), a staging buffer and the
    StreamingBatcher that fills it (hf_gan.streaming)."""
    if may_stream and hasattr(args, "streaming"):
        streamed = load_streaming_data(args, accelerator, require_labels)
        if streamed is not None:
            return streamed
    with accelerator.main_process_first():  # the first process fills the datasets cache
        dataset = load_image_dataset(args.dataset_name, args.dataset_split, cache_dir=args.cache_dir)
    data = prepare_image_dataset(
        dataset,
        args.image_column,
        args.label_column,
        args.resolution,
        args.num_channels,
        require_labels=require_labels,
        max_samples=args.max_train_samples,
        num_classes=args.num_classes,
    )
    device = accelerator.device
    if device.type == "cuda" and data.images.nbytes < torch.cuda.mem_get_info(device)[0] // 4:
        # the whole dataset on the GPU (uint8): batches are gathered there, with no copy or host sync per step
        data.images = data.images.to(device)
        data.labels = None if data.labels is None else data.labels.to(device)
    batcher = IndexBatcher(
        len(data),
        args.train_batch_size,
        args.seed,
        accelerator.process_index,
        accelerator.num_processes,
        device=data.images.device,
    )
    return data, batcher


# -- the state of a run and what follows each step ------------------------------------------------------------------


class TrainingState:
    """What a checkpoint holds: the models and optimizers (dicts by name), the step counters, the noise generator and
    the losses last logged (so that a run resumed at its final step still reports them)."""

    def __init__(self, seed: int, models: dict, optimizers: dict, device: str | torch.device = "cpu"):
        self.models, self.optimizers = models, optimizers
        self.step = 0  # optimiser steps of the generator (or of the autoencoder)
        self.batches_seen = 0
        self.train_seconds = 0.0  # wall-clock time spent in training steps, summed over resumed runs
        self.stats = {}
        self.stream = None  # a streaming run's StreamingBatcher (follow_stream)
        self.first_step_logged = False
        # on the training device: noise drawn on the CPU would need a copy, and a host sync, every step
        self.noise = torch.Generator(device).manual_seed(seed)

    def save_checkpoint(self, run: RunFolder, accelerator, total_limit: int | None) -> str:
        counters = {
            "step": self.step,
            "batches_seen": self.batches_seen,
            "train_seconds": self.train_seconds,
            "stats": self.stats,
        }
        return save_checkpoint(
            run.output_dir,
            run.run_id,
            self.step,
            self.models,
            self.optimizers,
            accelerator,
            state=counters,
            generators={"noise": self.noise},
            total_limit=total_limit,
            process_state=self.stream.state_dict(self.batches_seen) if self.stream else None,
        )

    def resume_if_asked(self, run: RunFolder, accelerator, learning_rates: dict) -> None:
        """Restores the checkpoint `run` resumes from, if any. `learning_rates` maps each optimizer to its --*_lr:
        they apply after a resume, since the checkpoint's would otherwise come back (e.g. after a divergence,
        resuming with lower rates)."""
        if run.checkpoint is None:
            return
        counters = load_checkpoint(run.checkpoint, self.models, self.optimizers, accelerator, {"noise": self.noise})
        self.step, self.batches_seen = counters["step"], counters["batches_seen"]
        self.train_seconds, self.stats = counters["train_seconds"], counters["stats"]
        stream_state = load_process_state(run.checkpoint, accelerator)
        if (stream_state is None) != (self.stream is None):
            written, now = ("streaming", "in memory") if self.stream is None else ("in memory", "streaming")
            raise CheckpointError(
                f"{run.checkpoint} was written by a run that read its data {written}; this one reads it {now}, in "
                f"another order. Resume with {'--streaming' if self.stream is None else '--no-streaming'}."
            )
        if self.stream is not None:
            self.stream.load_state_dict(stream_state)
        for optimizer, lr in learning_rates.items():
            for group in optimizer.param_groups:
                group["lr"] = lr
        logger.info(f"Resumed from {run.checkpoint} at step {self.step}", main_process_only=True)

    def start_clock(self) -> None:
        self._clock = time.perf_counter()

    def tick(self) -> None:
        """Adds the time since the last tick (or `start_clock`) to `train_seconds`."""
        now = time.perf_counter()
        self.train_seconds += now - self._clock
        self._clock = now


def follow_stream(state, batcher, run, accelerator, args) -> None:
    """For a streaming run: checkpoints record where the stream is, and a fault in the data (a bad label or image, a
    lost shard) first checkpoints the steps done (every process, since all stop before the same step)."""
    if not isinstance(batcher, StreamingBatcher):
        return
    state.stream = batcher

    def checkpoint_steps_done():
        path = state.save_checkpoint(run, accelerator, args.checkpoints_total_limit)
        return (
            f"The {state.step} steps done are saved in {path}: fix the data, then continue with "
            "--resume_from_checkpoint latest."
        )

    batcher.on_error = checkpoint_steps_done


def progress_bar(args, accelerator, state):
    """The steps still to run, shown on the main process; also starts the training-time clock."""
    state.start_clock()
    return tqdm(
        range(state.step, args.max_train_steps),
        initial=state.step,
        total=args.max_train_steps,
        disable=not accelerator.is_local_main_process,
        desc="steps",
    )


@torch.no_grad()
def update_ema(ema_model: torch.nn.Module, model: torch.nn.Module, decay: float | torch.Tensor) -> None:
    """ema <- decay * ema + (1 - decay) * model for parameters; buffers (BatchNorm statistics) are copied. `decay`
    may be a 0-dim tensor on the models' device (a CUDA graph's input, which changes between replays)."""
    # fused kernel launches for all parameters rather than one per tensor (launches bound a GPU step)
    ema, params = list(ema_model.parameters()), [p.detach() for p in model.parameters()]
    if isinstance(decay, torch.Tensor):
        torch._foreach_mul_(ema, decay)
        torch._foreach_add_(ema, torch._foreach_mul(params, 1 - decay))
    else:
        torch._foreach_lerp_(ema, params, 1 - decay)
    for ema_buffer, buffer in zip(ema_model.buffers(), model.buffers()):
        ema_buffer.copy_(buffer)


@torch.no_grad()
def standing_statistics(generator, num_batches, batch_size, training_labels=None, seed=0):
    """A copy of a latent `generator`, in eval mode, whose BatchNorm statistics are its own: averaged over
    `num_batches` batches of fresh latents (and of labels drawn from `training_labels`, for a class-conditional one)
    run through it in training mode (BigGAN's "standing statistics", Brock et al. 2019). update_ema averages the
    weights but copies the live generator's statistics, which belong to other weights: early in training, or with a
    long EMA, the EMA generator then normalises with wrong means and variances (docs/colour.md shows the washed-out
    samples this gives). Its own seed: the copy depends on the weights alone."""
    g = copy.deepcopy(generator)
    norms = [m for m in g.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return g.eval()
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches
    g.train()
    device = next(g.parameters()).device
    draws = torch.Generator().manual_seed(seed)
    pool = None if training_labels is None else training_labels.cpu()  # the draws are on the CPU generator
    for _ in range(num_batches):
        latents = torch.randn(batch_size, g.config.latent_dim, generator=draws).to(device)
        labels = None if pool is None else pool[torch.randint(len(pool), (batch_size,), generator=draws)].to(device)
        g(latents, labels)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    return g.eval()


def after_step(args, accelerator, run, state, progress, compute_stats, sample_grid, make_pipeline):
    """What follows each optimisation step: report and check the losses (on logging steps and before anything is
    saved; kept in `state.stats`), draw a sample grid, checkpoint, and save the pipeline."""
    step = state.step
    checkpointing = step % args.checkpointing_steps == 0
    saving = bool(args.save_every) and step % args.save_every == 0 and step != args.max_train_steps
    sampling = bool(args.sample_every) and step % args.sample_every == 0
    writing = checkpointing or saving or sampling
    if not state.first_step_logged:  # what a run costs before it trains: loading data, building, first batch
        state.first_step_logged = True
        started = time.time() - psutil.Process().create_time()
        logger.info(f"First step done (step {step}), {started:.1f} s after the start", main_process_only=True)
    if writing or step % args.logging_steps == 0 or step == args.max_train_steps:
        state.stats = compute_stats()  # a device sync: only on these steps
        state.tick()  # after the sync, so that the clock counts the GPU's queued work
        check_finite(state.stats, step, run)
        progress.set_postfix({k: f"{v:.4g}" for k, v in state.stats.items()})
        accelerator.log(state.stats, step=step)
    if sampling and accelerator.is_main_process:
        sample_grid(step)
    if checkpointing:
        state.save_checkpoint(run, accelerator, args.checkpoints_total_limit)
    if saving and accelerator.is_main_process:  # finish_run saves the last step's
        make_pipeline().save_pretrained(args.output_dir)
    if writing:
        state.start_clock()  # writing grids and checkpoints is not training-step time


class TrainingDiverged(RuntimeError):
    pass


def check_finite(stats, step, run):
    """Stops a run whose losses are NaN or infinite before it writes anything from that state."""
    bad = {k: v for k, v in stats.items() if not math.isfinite(v)}
    if bad:
        last = find_latest_checkpoint(run.output_dir, run.run_id)
        restart = (
            f"the last good checkpoint is {last}: resume from it" if last else "no checkpoint was written: start again"
        )
        raise TrainingDiverged(
            f"Training diverged at step {step}: {bad}. Nothing was saved from this state; {restart} with lower "
            "learning rates, or another --objective / --r1_gamma."
        )


# -- sample grids ---------------------------------------------------------------------------------------------------


def image_grid(images: torch.Tensor, rows: int) -> PIL.Image.Image:
    """(N, C, H, W) floats in [-1, 1] -> one PIL image with `rows` rows, 2-pixel gaps."""
    n, c, h, w = images.shape
    cols = math.ceil(n / rows)
    pixels = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    grid = np.zeros((rows * (h + 2), cols * (w + 2), c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        grid[r * (h + 2) + 1 : r * (h + 2) + 1 + h, col * (w + 2) + 1 : col * (w + 2) + 1 + w] = pixels[i].transpose(
            1, 2, 0
        )
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


def save_sample_grid(args, accelerator, grid, step):
    """Saves a sample grid under --output_dir/samples and sends it to the trackers."""
    os.makedirs(os.path.join(args.output_dir, "samples"), exist_ok=True)
    grid.save(os.path.join(args.output_dir, "samples", f"step_{step:06d}.png"))
    log_image(accelerator, "samples", grid, step)
    return grid


# -- the end of a run -----------------------------------------------------------------------------------------------


def hardware() -> str:
    """What the training cost in the model card was measured on."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    threads = torch.get_num_threads()
    return (
        f"a {os.cpu_count()}-core CPU, {threads} torch thread{'s' if threads > 1 else ''} (torch {torch.__version__})"
    )


def finish_run(args, pipeline, kind, final_stats, samples=None):
    """Saves the pipeline, the card's pictures and the model card to --output_dir, and pushes them if asked.
    `samples`: the card's picture, if not the pipeline's sample grid (an image-to-image model's before / after)."""
    pipeline.save_pretrained(args.output_dir)
    pictures = {"samples.png": samples or pipeline_grid(pipeline)}
    if kind in ("gan", "infogan"):
        pictures["interpolation.png"] = interpolation_strip(interpolation_frames(pipeline, 0, 1, num_frames=10))
    save_images({os.path.join(args.output_dir, name): (picture, {}) for name, picture in pictures.items()})
    hyperparameters = {
        k: v for k, v in vars(args).items() if k not in SECRET_ARGUMENTS and v is not None and k != "config"
    }
    with open(os.path.join(args.output_dir, "training_args.json"), "w", encoding="utf-8") as file:
        json.dump(hyperparameters, file, indent=2)
    with open(os.path.join(args.output_dir, "train_results.json"), "w", encoding="utf-8") as file:
        json.dump(final_stats, file, indent=2)
    write_model_card(
        args.output_dir,
        kind=kind,
        repo_id=args.hub_model_id or args.output_dir,
        dataset=args.dataset_name,
        hyperparameters=hyperparameters,
        final_stats=final_stats,
        dataset_id=args.hub_dataset_id,
        hardware=hardware(),
        training_command="accelerate launch -m hf_gan.training.train_"
        f"{'autoencoder' if kind == 'autoencoder' else 'gan'}",
    )
    if args.push_to_hub:
        repo_id = push_folder(args.output_dir, args.hub_model_id, token=args.hub_token, private=args.hub_private_repo)
        logger.info(f"Pushed to {repo_id}", main_process_only=True)
