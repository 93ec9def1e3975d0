"""What train_gan.py and train_autoencoder.py share: their common arguments and the start and end of a run."""

import json
import logging
import math
import os

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import ProjectConfiguration, set_seed
from tqdm.auto import tqdm

from hf_gan.data import load_image_dataset, prepare_image_dataset
from hf_gan.hub import push_folder
from hf_gan.model_card import write_model_card
from hf_gan.training_utils import (
    IndexBatcher,
    TrainingState,
    check_output_dir,
    list_checkpoints,
    log_image,
    parse_args_with_config,
    resolve_resume_checkpoint,
    save_checkpoint,
)

logger = get_logger(__name__)
# Never written to disk, logs, trackers or the model card.
SECRET_ARGUMENTS = ("hub_token",)


def add_common_arguments(parser, default_output_dir):
    parser.add_argument("--config", help="a YAML preset (training/configs/*.yaml); command-line flags override it")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset_name", required=False, help="Hub dataset id, image folder, parquet/arrow file, "
                      "save_to_disk folder, or folder of MNIST idx files")
    data.add_argument("--dataset_split", default="train")
    data.add_argument("--image_column", help="default: the Image column, or one named image/img")
    data.add_argument("--label_column", help="default: the ClassLabel column, or one named label/labels")
    data.add_argument("--resolution", type=int, help="resize (short side) and centre-crop to this size")
    data.add_argument("--num_channels", type=int, choices=[1, 3], help="default: 1 for grayscale datasets, else 3")
    data.add_argument("--max_train_samples", type=int)
    data.add_argument("--cache_dir")
    data.add_argument("--hub_dataset_id", help="the dataset's Hub id, for the model card's metadata (default: "
                      "--dataset_name when it is one)")
    run = parser.add_argument_group("run")
    run.add_argument("--output_dir", default=default_output_dir)
    run.add_argument("--overwrite_output_dir", action="store_true")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--train_batch_size", type=int, default=128, help="global batch, split across processes")
    run.add_argument("--max_train_steps", type=int, default=2000)
    run.add_argument("--mixed_precision", choices=["no", "fp16", "bf16"], default="no")
    run.add_argument("--num_threads", type=int, help="torch CPU threads per process (default: torch's choice)")
    run.add_argument("--checkpointing_steps", type=int, default=500)
    run.add_argument("--checkpoints_total_limit", type=int, default=2)
    run.add_argument("--resume_from_checkpoint", help="'latest' or a checkpoint folder")
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
    if args.push_to_hub and not args.hub_model_id:
        parser.error("--push_to_hub needs --hub_model_id org/name.")
    if args.mixed_precision == "fp16" and not torch.cuda.is_available():
        parser.error("--mixed_precision fp16 needs a GPU (it uses loss scaling); on a CPU use bf16 or no.")
    for name in ("max_train_steps", "train_batch_size", "checkpointing_steps", "logging_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1.")
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    resuming = resolve_resume_checkpoint(args.resume_from_checkpoint, args.output_dir) is not None
    check_output_dir(args.output_dir, resuming, args.overwrite_output_dir)
    return args


def make_accelerator(args) -> Accelerator:
    """The run's Accelerator (mixed precision, trackers, logging folder), with logging set up and the seed set, so
    that every process starts from the same weights."""
    accelerator = Accelerator(
        mixed_precision=args.mixed_precision,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=args.output_dir, logging_dir=os.path.join(args.output_dir, "logs")),
    )
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.INFO)
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    set_seed(args.seed)
    return accelerator


def load_training_data(args, accelerator, require_labels):
    """The dataset in memory, and the batcher that hands this process its slice of each global batch."""
    with accelerator.main_process_first():  # the first process fills the datasets cache
        dataset = load_image_dataset(args.dataset_name, args.dataset_split, cache_dir=args.cache_dir)
    data = prepare_image_dataset(
        dataset, args.image_column, args.label_column, args.resolution, args.num_channels,
        require_labels=require_labels, max_samples=args.max_train_samples,
    )
    batcher = IndexBatcher(len(data), args.train_batch_size, args.seed, accelerator.process_index, accelerator.num_processes)
    return data, batcher


def start_or_resume(args, accelerator, learning_rates, extra_objects=()):
    """Registers the training state for checkpointing and restores the latest (or given) checkpoint if asked.

    `learning_rates` maps each optimizer to its --*_lr: they are applied after a resume, since the checkpoint's
    optimizer state would otherwise bring back the old ones (e.g. after a divergence, resuming with lower rates)."""
    state = TrainingState(args.seed)
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
    if accelerator.is_main_process:
        os.makedirs(args.output_dir, exist_ok=True)
        tracker_config = {k: v for k, v in vars(args).items() if k not in SECRET_ARGUMENTS and isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers("hf_gan", config=tracker_config)
    return state


def progress_bar(args, accelerator, state):
    """The steps still to run, shown on the main process; also starts the training-time clock."""
    state.start_clock()
    return tqdm(range(state.step, args.max_train_steps), initial=state.step, total=args.max_train_steps,
                disable=not accelerator.is_local_main_process, desc="steps")


def save_sample_grid(args, accelerator, grid, step):
    """Saves a sample grid under --output_dir/samples and sends it to the trackers."""
    os.makedirs(os.path.join(args.output_dir, "samples"), exist_ok=True)
    grid.save(os.path.join(args.output_dir, "samples", f"step_{step:06d}.png"))
    log_image(accelerator, "samples", grid, step)
    return grid


def after_step(args, accelerator, state, progress, compute_stats, sample_grid, make_pipeline):
    """What follows each optimisation step: report and check the losses (on logging steps and before anything is
    saved), draw a sample grid, checkpoint, and save the pipeline. Returns the stats when it computed them."""
    step = state.step
    saving = step % args.checkpointing_steps == 0 or (args.save_every and step % args.save_every == 0)
    stats = None
    if saving or step % args.logging_steps == 0 or step == args.max_train_steps:
        state.tick()
        stats = compute_stats()  # a device sync: only on these steps
        check_finite(stats, step, args)
        progress.set_postfix({k: f"{v:.4g}" for k, v in stats.items()})
        accelerator.log(stats, step=step)
    if args.sample_every and step % args.sample_every == 0 and accelerator.is_main_process:
        sample_grid(step)
    if step % args.checkpointing_steps == 0:
        save_checkpoint(accelerator, args.output_dir, step, args.checkpoints_total_limit)
    if args.save_every and step % args.save_every == 0 and step != args.max_train_steps and accelerator.is_main_process:
        make_pipeline().save_pretrained(args.output_dir)
    return stats


class TrainingDiverged(RuntimeError):
    pass


def check_finite(stats, step, args):
    """Stops a run whose losses are NaN or infinite before it writes anything from that state."""
    bad = {k: v for k, v in stats.items() if not math.isfinite(v)}
    if bad:
        checkpoints = list_checkpoints(args.output_dir)
        last = checkpoints[-1] if checkpoints else "none was written"
        raise TrainingDiverged(
            f"Training diverged at step {step}: {bad}. Nothing was saved from this state; the last good checkpoint is "
            f"{last}. Resume from it with lower learning rates, or another --objective / --r1_gamma."
        )


def hardware() -> str:
    """What the training cost in the model card was measured on."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    threads = torch.get_num_threads()
    return f"a {os.cpu_count()}-core CPU, {threads} torch thread{'s' if threads > 1 else ''} (torch {torch.__version__})"


def finish_run(args, pipeline, grid, kind, final_stats):
    """Saves the pipeline, its sample grid and model card to --output_dir, and pushes them if asked."""
    pipeline.save_pretrained(args.output_dir)
    grid.save(os.path.join(args.output_dir, "samples.png"))
    hyperparameters = {k: v for k, v in vars(args).items() if k not in SECRET_ARGUMENTS and v is not None and k != "config"}
    with open(os.path.join(args.output_dir, "training_args.json"), "w", encoding="utf-8") as file:
        json.dump(hyperparameters, file, indent=2)
    with open(os.path.join(args.output_dir, "train_results.json"), "w", encoding="utf-8") as file:
        json.dump(final_stats, file, indent=2)
    write_model_card(
        args.output_dir, kind=kind, repo_id=args.hub_model_id or args.output_dir, dataset=args.dataset_name,
        hyperparameters=hyperparameters, final_stats=final_stats, dataset_id=args.hub_dataset_id, hardware=hardware(),
    )
    if args.push_to_hub:
        repo_id = push_folder(args.output_dir, args.hub_model_id, token=args.hub_token, private=args.hub_private_repo)
        logger.info(f"Pushed to {repo_id}", main_process_only=True)
