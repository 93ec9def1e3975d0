"""Training throughput: images/s of hf_gan.training.train_gan against a bare PyTorch loop of the same networks, loss
and batch, in the same process.

    python benchmarks/training_throughput.py [--config mnist_cgan] [--steps 300]

The script's figure is its own clock of training-step time (train_results.json); the bare loop is a plain
`for` loop with the same D step, G step (with the preset's AC-GAN class loss or InfoGAN code loss) and EMA update,
and none of accelerate, logging or checkpoint logic. The two alternate (script, bare, script, bare, ...) and the
medians are compared. Both see one global batch of real MNIST digits per D step, so an image counts once per D step.
"""

import argparse
import copy
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F

from hf_gan import DCGANDiscriminator, DCGANGenerator
from hf_gan.data import load_image_dataset, prepare_image_dataset
from hf_gan.losses import discriminator_loss, generator_loss
from hf_gan.training import train_gan
from hf_gan.training.utils import read_preset, update_ema


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bare_loop(config, images, labels, steps):
    """The same networks and losses in a plain PyTorch loop; returns images/s."""
    torch.manual_seed(0)
    num_classes = 10 if config["model"] == "cgan" else None
    code_size = config.get("categorical_code", 0)
    g = DCGANGenerator(
        latent_dim=config.get("latent_dim", 64),
        base_channels=config.get("generator_channels", 32),
        num_classes=num_classes,
        class_conditional_norm=config.get("class_conditional_norm", False),
        categorical_code=code_size,
    )
    d = DCGANDiscriminator(
        base_channels=config.get("discriminator_channels", 32),
        num_classes=num_classes,
        conditioning=config.get("conditioning", "projection"),
        auxiliary_classifier=config.get("class_loss_weight", 0) > 0,
        extra_layers=config.get("discriminator_extra_layers", 0),
        categorical_code=code_size,
    )
    g.to(memory_format=torch.channels_last)  # as train_gan does
    d.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(g).requires_grad_(False)
    betas = (config["adam_beta1"], config["adam_beta2"])
    opt_g = torch.optim.Adam(g.parameters(), lr=config["generator_lr"], betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=config["discriminator_lr"], betas=betas)
    batch, objective = config["train_batch_size"], config["objective"]
    class_weight, code_weight = config.get("class_loss_weight", 0), config.get("code_loss_weight", 1.0)

    start = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(0, len(images), (batch,))
        real = images[idx].float().div_(127.5).sub_(1).contiguous(memory_format=torch.channels_last)
        y = labels[idx] if num_classes else None
        noise = torch.randn(batch, g.config.latent_dim)
        with torch.no_grad():
            fake = g(noise, y)
        if class_weight:  # AC-GAN: D classifies the real images
            real_logits, class_logits = d(real, y, return_class_logits=True)
        else:
            real_logits = d(real, y)
        if code_size:  # InfoGAN: D reads the code off the fakes
            fake_logits, code_logits = d(fake, y, return_code_logits=True)
        else:
            fake_logits = d(fake, y)
        loss_d = discriminator_loss(objective, real_logits, fake_logits)
        if class_weight:
            loss_d = loss_d + class_weight * F.cross_entropy(class_logits, y)
        if code_size:
            loss_d = loss_d + code_weight * F.cross_entropy(code_logits, g.split_code(noise)[1])
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        d.requires_grad_(False)
        noise = torch.randn(batch, g.config.latent_dim)
        fake = g(noise, y)
        if class_weight:
            fake_logits, class_logits = d(fake, y, return_class_logits=True)
        elif code_size:
            fake_logits, code_logits = d(fake, y, return_code_logits=True)
        else:
            fake_logits = d(fake, y)
        loss_g = generator_loss(objective, fake_logits)
        if class_weight:
            loss_g = loss_g + class_weight * F.cross_entropy(class_logits, y)
        if code_size:
            loss_g = loss_g + code_weight * F.cross_entropy(code_logits, g.split_code(noise)[1])
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        d.requires_grad_(True)
        update_ema(ema, g, min(config.get("ema_decay", 0.999), (1 + step) / (10 + step)))
        if step % 20 == 0:
            loss_d.item()  # the script syncs for its progress bar about as often
    return steps * batch / (time.perf_counter() - start)


def script_loop(config_path, dataset, steps, output_dir):
    train_gan.main(
        [
            "--config",
            config_path,
            "--dataset_name",
            dataset,
            "--output_dir",
            output_dir,
            "--overwrite_output_dir",
            "--max_train_steps",
            str(steps),
            "--checkpointing_steps",
            str(10 * steps),
            "--sample_every",
            "0",
        ]
    )
    with open(os.path.join(output_dir, "train_results.json")) as file:
        seconds = json.load(file)["train_minutes"] * 60
    batch_size = read_preset(config_path)["train_batch_size"]
    return steps * batch_size / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mnist_cgan", help="a shipped preset or a YAML file")
    parser.add_argument("--dataset_name", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output_dir", default="/tmp/hf_gan_throughput")
    args = parser.parse_args()
    config = read_preset(args.config)
    data = prepare_image_dataset(load_image_dataset(args.dataset_name))
    ours, bare = [], []
    for _ in range(args.rounds):
        ours.append(script_loop(args.config, args.dataset_name, args.steps, args.output_dir))
        bare.append(bare_loop(config, data.images, data.labels, args.steps))
        print(f"train_gan {ours[-1]:.0f} img/s, bare loop {bare[-1]:.0f} img/s", flush=True)
    print(
        f"median: train_gan {statistics.median(ours):.0f} img/s, "
        f"bare PyTorch loop {statistics.median(bare):.0f} img/s, "
        f"ratio {statistics.median(ours) / statistics.median(bare):.3f} "
        f"(torch threads {torch.get_num_threads()}, batch {config['train_batch_size']})"
    )


if __name__ == "__main__":
    main()
