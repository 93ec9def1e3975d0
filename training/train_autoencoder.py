"""Train a convolutional autoencoder with accelerate; its decoder becomes a generator (hf_gan.AutoencoderPipeline).

    accelerate launch training/train_autoencoder.py --config training/configs/mnist_autoencoder.yaml

The loss is the mean squared reconstruction error on images scaled to [-1, 1]. At the end a Gaussian is fitted to
the codes of the training images: sampling decodes draws from it (see hf_gan/models/autoencoder.py).
"""

import argparse
import copy
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    add_common_arguments,
    after_step,
    finish_run,
    load_training_data,
    make_accelerator,
    prepare_run,
    progress_bar,
    save_sample_grid,
    start_or_resume,
)

from hf_gan import AutoencoderPipeline, ConvAutoencoder  # noqa: E402
from hf_gan.training_utils import image_grid  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, default_output_dir="outputs/autoencoder")
    parser.add_argument("--latent_dim", type=int, default=16)
    parser.add_argument("--base_channels", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    return parser


def main(argv=None):
    args = prepare_run(parse_args(), argv)
    accelerator = make_accelerator(args)

    data, batcher = load_training_data(args, accelerator, require_labels=False)
    _, channels, resolution, _ = data.images.shape
    model = ConvAutoencoder(latent_dim=args.latent_dim, sample_size=resolution, channels=channels, base_channels=args.base_channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    state = start_or_resume(args, accelerator, {optimizer: args.learning_rate})
    to_model_range = lambda uint8: uint8.to(accelerator.device).float().div_(127.5).sub_(1)  # noqa: E731
    grid_images = to_model_range(data.images[:32])

    def sample_grid(step, autoencoder=None):
        """Top half: reconstructions of fixed training images; bottom half: new samples from the latent prior of
        `autoencoder` (by default the model in training, whose prior is N(0, I) until it is fitted at the end)."""
        autoencoder = autoencoder or accelerator.unwrap_model(model)
        was_training = autoencoder.training
        autoencoder.eval()
        with torch.no_grad():
            noise = torch.randn(32, args.latent_dim, generator=torch.Generator().manual_seed(args.seed + 1))
            samples = autoencoder.decode(autoencoder.noise_to_codes(noise.to(accelerator.device)))
            grid = image_grid(torch.cat([autoencoder(grid_images), samples]), rows=8)
        autoencoder.train(was_training)
        return save_sample_grid(args, accelerator, grid, step)

    def make_pipeline():
        """The pipeline of a copy of the model, with its sampling prior fitted to the codes of (up to 20k)
        training images."""
        autoencoder = copy.deepcopy(accelerator.unwrap_model(model)).eval()
        with torch.no_grad():
            codes = torch.cat([autoencoder.encode(to_model_range(data.images[i : i + 1000])) for i in range(0, min(len(data), 20_000), 1000)])
        autoencoder.fit_latent_prior(codes)
        return AutoencoderPipeline(autoencoder)

    progress = progress_bar(args, accelerator, state)
    stats = {}
    for _ in progress:
        images = to_model_range(data.images[batcher.indices(state.batches_seen)])
        state.batches_seen += 1
        with accelerator.autocast():
            loss = F.mse_loss(model(images).float(), images)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        optimizer.step()
        state.step += 1
        stats = after_step(args, accelerator, state, progress, lambda: {"loss_reconstruction": loss.item()},
                           sample_grid, make_pipeline) or stats

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        pipeline = make_pipeline()
        finish_run(args, pipeline, sample_grid(state.step, pipeline.autoencoder), kind="autoencoder",
                   final_stats={**stats, "train_minutes": state.train_seconds / 60})
    accelerator.end_training()


if __name__ == "__main__":
    main()
