"""Train a convolutional autoencoder with accelerate; its decoder becomes a generator (hf_gan.AutoencoderPipeline).

    accelerate launch training/train_autoencoder.py --config training/configs/mnist_autoencoder.yaml

The loss is the mean squared reconstruction error on images scaled to [-1, 1]. At the end a Gaussian is fitted to
the codes of the training images: sampling decodes draws from it (see hf_gan/models/autoencoder.py).
"""

import argparse
import logging
import os
import sys
import time

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed
from tqdm.auto import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import add_common_arguments, check_finite, finish_run, load_training_data, prepare_run, start_or_resume  # noqa: E402

from hf_gan import AutoencoderPipeline, ConvAutoencoder  # noqa: E402
from hf_gan.training_utils import image_grid, log_image, save_checkpoint  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, default_output_dir="outputs/autoencoder")
    parser.add_argument("--latent_dim", type=int, default=16)
    parser.add_argument("--base_channels", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    return parser


def main(argv=None):
    args = prepare_run(parse_args(), argv)
    accelerator = Accelerator(
        mixed_precision=args.mixed_precision,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=args.output_dir, logging_dir=os.path.join(args.output_dir, "logs")),
    )
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.INFO)
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    set_seed(args.seed)

    data, batcher = load_training_data(args, accelerator, require_labels=False)
    _, channels, resolution, _ = data.images.shape
    model = ConvAutoencoder(latent_dim=args.latent_dim, sample_size=resolution, channels=channels, base_channels=args.base_channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    state = start_or_resume(args, accelerator, {optimizer: args.learning_rate})
    to_model_range = lambda uint8: uint8.to(accelerator.device).float().div_(127.5).sub_(1)  # noqa: E731
    grid_images = to_model_range(data.images[:32])

    def sample_grid(step):
        """Top half: reconstructions of fixed training images; bottom half: new samples from the prior."""
        autoencoder = accelerator.unwrap_model(model).eval()
        with torch.no_grad():
            noise = torch.randn(32, args.latent_dim, generator=torch.Generator().manual_seed(args.seed + 1))
            samples = autoencoder.decode(autoencoder.noise_to_codes(noise.to(accelerator.device)))
            grid = image_grid(torch.cat([autoencoder(grid_images), samples]), rows=8)
        autoencoder.train()
        os.makedirs(os.path.join(args.output_dir, "samples"), exist_ok=True)
        grid.save(os.path.join(args.output_dir, "samples", f"step_{step:06d}.png"))
        log_image(accelerator, "samples", grid, step)
        return grid

    progress = tqdm(range(state.step, args.max_train_steps), initial=state.step, total=args.max_train_steps,
                    disable=not accelerator.is_local_main_process, desc="steps")
    stats, clock = {}, time.perf_counter()
    for _ in progress:
        images = to_model_range(data.images[batcher.indices(state.batches_seen)])
        state.batches_seen += 1
        with accelerator.autocast():
            loss = F.mse_loss(model(images).float(), images)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        optimizer.step()
        state.step += 1
        step = state.step

        saving = step % args.checkpointing_steps == 0 or (args.save_every and step % args.save_every == 0)
        if saving or step % args.logging_steps == 0 or step == args.max_train_steps:
            state.train_seconds += time.perf_counter() - clock
            clock = time.perf_counter()
            stats = {"loss_reconstruction": loss.item()}
            check_finite(stats, step, args)
            progress.set_postfix({k: f"{v:.4f}" for k, v in stats.items()})
            accelerator.log(stats, step=step)
        if args.sample_every and step % args.sample_every == 0 and accelerator.is_main_process:
            sample_grid(step)
        if step % args.checkpointing_steps == 0:
            save_checkpoint(accelerator, args.output_dir, step, args.checkpoints_total_limit)

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        autoencoder = accelerator.unwrap_model(model).eval()
        with torch.no_grad():  # the sampling prior: a Gaussian fitted to the codes of (up to 20k) training images
            codes = torch.cat([autoencoder.encode(to_model_range(data.images[i : i + 1000])) for i in range(0, min(len(data), 20_000), 1000)])
        autoencoder.fit_latent_prior(codes)
        finish_run(args, AutoencoderPipeline(autoencoder), sample_grid(state.step), kind="autoencoder",
                   final_stats={**stats, "train_minutes": state.train_seconds / 60})
    accelerator.end_training()


if __name__ == "__main__":
    main()
