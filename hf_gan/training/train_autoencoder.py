"""Train a convolutional autoencoder with accelerate; its decoder becomes a generator (hf_gan.AutoencoderPipeline).

    accelerate launch -m hf_gan.training.train_autoencoder --config mnist_autoencoder --dataset_name ./mnist

The loss is the mean squared reconstruction error on images scaled to [-1, 1]. At the end a Gaussian is fitted to
the codes of the training images: sampling decodes draws from it (see hf_gan/models/autoencoder.py).
"""

import argparse
import copy
import functools

import torch
import torch.nn.functional as F

from ..models import ConvAutoencoder
from ..pipelines import AutoencoderPipeline
from .checkpointing import bare_model
from .utils import (
    TrainingState,
    add_common_arguments,
    after_step,
    finish_run,
    image_grid,
    init_trackers,
    load_training_data,
    make_accelerator,
    open_run_folder,
    prepare_run,
    progress_bar,
    save_sample_grid,
)


def to_model_range(uint8_images, device):
    return uint8_images.to(device).float().div_(127.5).sub_(1)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, default_output_dir="outputs/autoencoder")
    parser.add_argument("--latent_dim", type=int, default=16)
    parser.add_argument("--base_channels", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    return parser


@torch.no_grad()
def sample_grid(args, accelerator, autoencoder, grid_images, step):
    """Top half: reconstructions of fixed training images; bottom half: new samples from the latent prior of
    `autoencoder` (the model in training, whose prior is N(0, I) until it is fitted at the end)."""
    was_training = autoencoder.training
    autoencoder.eval()
    noise = torch.randn(32, args.latent_dim, generator=torch.Generator().manual_seed(args.seed + 1))
    samples = autoencoder.decode(autoencoder.noise_to_codes(noise.to(accelerator.device)))
    grid = image_grid(torch.cat([autoencoder(grid_images), samples]), rows=8)
    autoencoder.train(was_training)
    return save_sample_grid(args, accelerator, grid, step)


@torch.no_grad()
def make_pipeline(accelerator, model, data):
    """The pipeline of a copy of the model, with its sampling prior fitted to the codes of (up to 20k) training
    images."""
    autoencoder = copy.deepcopy(bare_model(accelerator, model)).eval()
    codes = torch.cat(
        [
            autoencoder.encode(to_model_range(data.images[i : i + 1000], accelerator.device))
            for i in range(0, min(len(data), 20_000), 1000)
        ]
    )
    autoencoder.fit_latent_prior(codes)
    return AutoencoderPipeline(autoencoder)


def main(argv=None):
    args = prepare_run(parse_args(), argv)
    accelerator = make_accelerator(args)
    with open_run_folder(args, accelerator) as run:
        train(args, accelerator, run)


def train(args, accelerator, run):
    data, batcher = load_training_data(args, accelerator, require_labels=False)
    _, channels, resolution, _ = data.images.shape
    model = ConvAutoencoder(
        latent_dim=args.latent_dim, sample_size=resolution, channels=channels, base_channels=args.base_channels
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)

    state = TrainingState(args.seed, models={"autoencoder": model}, optimizers={"autoencoder": optimizer})
    state.resume_if_asked(run, accelerator, {optimizer: args.learning_rate})
    init_trackers(args, accelerator)
    grid_images = to_model_range(data.images[:32], accelerator.device)
    save_grid = functools.partial(sample_grid, args, accelerator, bare_model(accelerator, model), grid_images)
    pipeline = functools.partial(make_pipeline, accelerator, model, data)

    progress = progress_bar(args, accelerator, state)
    for _ in progress:
        images = to_model_range(data.images[batcher.indices(state.batches_seen)], accelerator.device)
        state.batches_seen += 1
        with accelerator.autocast():
            loss = F.mse_loss(model(images).float(), images)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        optimizer.step()
        state.step += 1
        after_step(
            args, accelerator, run, state, progress, lambda: {"loss_reconstruction": loss.item()}, save_grid, pipeline
        )

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        final = pipeline()
        sample_grid(args, accelerator, final.autoencoder, grid_images, state.step)
        finish_run(
            args, final, kind="autoencoder", final_stats={**state.stats, "train_minutes": state.train_seconds / 60}
        )
    accelerator.end_training()


if __name__ == "__main__":
    main()
