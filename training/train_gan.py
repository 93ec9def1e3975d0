"""Train a GAN or a class-conditional GAN with accelerate, and save it as an hf_gan pipeline.

    accelerate launch training/train_gan.py --config training/configs/mnist_cgan.yaml
    accelerate launch training/train_gan.py --dataset_name ./my_images --model gan --resolution 64 --output_dir out

Goodfellow et al.'s algorithm: each step takes `--d_steps` stochastic-gradient steps on the discriminator D (ascending
log D(x) + log(1 - D(G(z))), or the hinge variant), then one step on the generator G. An EMA copy of G is what gets
sampled and saved. With --categorical_code, the unconditional GAN is an InfoGAN: D also learns to read G's
categorical code off its images and G to keep it readable. The whole dataset sits in memory as uint8 and batches are
gathered by index (hf_gan.data).
"""

import argparse
import copy
import os
import sys

import torch
import torch.nn.functional as F
from accelerate.logging import get_logger

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

from hf_gan import ConditionalGANPipeline, DCGANDiscriminator, DCGANGenerator, GANPipeline  # noqa: E402
from hf_gan.losses import OBJECTIVES, discriminator_loss, generator_loss, r1_penalty  # noqa: E402
from hf_gan.training_utils import image_grid, update_ema  # noqa: E402

logger = get_logger(__name__)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, default_output_dir="outputs/gan")
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=["gan", "cgan"], default="cgan", help="unconditional or class-conditional")
    model.add_argument("--pretrained_model_name_or_path", help="fine-tune the G and D of this hf_gan pipeline")
    model.add_argument("--latent_dim", type=int, default=64)
    model.add_argument("--generator_channels", type=int, default=32, help="G width at full resolution")
    model.add_argument("--discriminator_channels", type=int, default=32, help="D width at full resolution")
    model.add_argument("--conditioning", choices=["projection", "concat"], default="projection",
                       help="how D sees the label: projection (default) or the one-hot channels of Mirza & Osindero")
    model.add_argument("--class_conditional_norm", action="store_true",
                       help="G's BatchNorms take their scale and shift from the label (cGAN) or the categorical code")
    model.add_argument("--discriminator_extra_layers", type=int, default=0,
                       help="3x3 convolutions added to D at its lowest resolution (deeper D, see ConvEncoder)")
    model.add_argument("--discriminator_norm", choices=["spectral", "batch", "none"], default="spectral")
    model.add_argument("--class_loss_weight", type=float, default=0.0,
                       help="AC-GAN: D also classifies real images and G is trained to make its fakes classified as "
                       "the label asked for, with this weight (0: off)")
    model.add_argument("--categorical_code", type=int, default=0,
                       help="unconditional GAN: InfoGAN's categorical latent code with this many values, which D's "
                       "auxiliary head learns to recover from G's images (0: off; the MNIST preset uses 20)")
    model.add_argument("--code_loss_weight", type=float, default=1.0,
                       help="InfoGAN: weight of the code-recovery (mutual information) loss, for G and D")
    train = parser.add_argument_group("objective and optimisation")
    train.add_argument("--objective", choices=OBJECTIVES, default="hinge")
    train.add_argument("--d_steps", type=int, default=1, help="discriminator steps per generator step (k)")
    train.add_argument("--generator_lr", type=float, default=2e-4)
    train.add_argument("--discriminator_lr", type=float, default=2e-4)
    train.add_argument("--lr_decay_steps", type=int, default=0,
                       help="the learning rates fall linearly to 0 over this many last steps (0: constant)")
    train.add_argument("--adam_beta1", type=float, default=0.0)
    train.add_argument("--adam_beta2", type=float, default=0.99)
    train.add_argument("--r1_gamma", type=float, default=0.0, help="weight of the R1 penalty on real data (0: off)")
    train.add_argument("--ema_decay", type=float, default=0.999, help="EMA of the generator's weights")
    train.add_argument("--no_ema", action="store_true", help="save and sample the raw generator")
    return parser


def main(argv=None):
    args = prepare_run(parse_args(), argv)
    accelerator = make_accelerator(args)
    conditional = args.model == "cgan"
    if args.class_loss_weight > 0 and not conditional:
        raise ValueError("--class_loss_weight needs a class-conditional model (--model cgan).")
    if args.categorical_code and conditional:
        raise ValueError("--categorical_code is for an unconditional model (--model gan): a cGAN has its labels.")

    # -- data -----------------------------------------------------------------------------------------------------
    data, batcher = load_training_data(args, accelerator, require_labels=conditional)
    num_classes = len(data.label_names) if conditional else None
    _, channels, resolution, _ = data.images.shape

    # -- models ---------------------------------------------------------------------------------------------------
    if args.pretrained_model_name_or_path:
        pipeline_class = ConditionalGANPipeline if conditional else GANPipeline
        pretrained = pipeline_class.from_pretrained(args.pretrained_model_name_or_path)
        generator, discriminator = pretrained.generator, pretrained.discriminator
        if discriminator is None:
            raise ValueError(f"{args.pretrained_model_name_or_path} has no discriminator to fine-tune; train from scratch.")
        if (generator.config.sample_size, generator.config.out_channels, generator.config.num_classes) != (resolution, channels, num_classes):
            raise ValueError(
                f"{args.pretrained_model_name_or_path} makes {generator.config.out_channels}x{generator.config.sample_size}px "
                f"images for {generator.config.num_classes} classes; the dataset has {channels}x{resolution}px, {num_classes}."
            )
    else:
        generator = DCGANGenerator(
            latent_dim=args.latent_dim, sample_size=resolution, out_channels=channels,
            base_channels=args.generator_channels, num_classes=num_classes,
            class_conditional_norm=(conditional or args.categorical_code > 0) and args.class_conditional_norm,
            categorical_code=args.categorical_code,
        )
        discriminator = DCGANDiscriminator(
            sample_size=resolution, in_channels=channels, base_channels=args.discriminator_channels,
            num_classes=num_classes, conditioning=args.conditioning, norm=args.discriminator_norm,
            auxiliary_classifier=args.class_loss_weight > 0, extra_layers=args.discriminator_extra_layers,
            categorical_code=args.categorical_code,
        )
    generator.train()
    discriminator.train()
    ema_generator = copy.deepcopy(generator).requires_grad_(False)
    latent_dim = generator.config.latent_dim

    betas = (args.adam_beta1, args.adam_beta2)
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=args.generator_lr, betas=betas)
    optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=args.discriminator_lr, betas=betas)
    generator, discriminator, optimizer_g, optimizer_d = accelerator.prepare(generator, discriminator, optimizer_g, optimizer_d)
    # The generator step runs D without DDP's hooks and with its weights frozen: no gradient reaches D then, so
    # DDP never sees parameters that were used but not reduced (no find_unused_parameters needed).
    discriminator_module = accelerator.unwrap_model(discriminator)
    use_class_loss = discriminator_module.config.auxiliary_classifier
    use_code_loss = discriminator_module.config.categorical_code > 0
    split_code = accelerator.unwrap_model(generator).split_code
    learning_rates = {optimizer_g: args.generator_lr, optimizer_d: args.discriminator_lr}
    state = start_or_resume(args, accelerator, learning_rates, extra_objects=[ema_generator])

    # Fixed noise for sample grids: one row per class for a conditional model, per code value for InfoGAN.
    rows = min(num_classes if conditional else args.categorical_code or 8, 10)
    grid_noise = torch.randn(rows * 8, latent_dim, generator=torch.Generator().manual_seed(args.seed + 1))
    row_ids = torch.arange(rows).repeat_interleave(8)
    grid_labels = row_ids if conditional else None
    if use_code_loss:  # latents whose last entries have their maximum at the row's code
        grid_noise[:, -args.categorical_code:] = F.one_hot(row_ids, args.categorical_code)

    def draw_noise():
        """This process's slice of one global batch of noise, so the run does not depend on the process count."""
        noise = torch.randn(args.train_batch_size, latent_dim, generator=state.noise)
        start = accelerator.process_index * batcher.local_batch_size
        return noise[start : start + batcher.local_batch_size].to(accelerator.device)

    def draw_batch():
        """Real images in [-1, 1] and their labels: this process's slice of the next global batch."""
        indices = batcher.indices(state.batches_seen)
        state.batches_seen += 1
        images = data.images[indices].to(accelerator.device, non_blocking=True).float().div_(127.5).sub_(1)
        return images, data.labels[indices].to(accelerator.device) if conditional else None

    def score(d, images, labels, with_head):
        """D's real/fake logits and, `with_head`, its auxiliary head's class or code logits (else None)."""
        return d(images, labels, return_class_logits=True) if with_head else (d(images, labels), None)

    def sample_grid(step):
        ema_generator.eval()
        with torch.no_grad():
            images = ema_generator(grid_noise.to(accelerator.device), None if grid_labels is None else grid_labels.to(accelerator.device))
        return save_sample_grid(args, accelerator, image_grid(images, rows), step)

    def make_pipeline():
        g = ema_generator if not args.no_ema else accelerator.unwrap_model(generator)
        g = copy.deepcopy(g).eval()
        d = copy.deepcopy(accelerator.unwrap_model(discriminator)).eval()
        if conditional:
            return ConditionalGANPipeline(g, d, id2label=dict(enumerate(data.label_names)))
        return GANPipeline(g, d)

    # -- training loop ----------------------------------------------------------------------------------------------
    logger.info(f"{len(data)} images {channels}x{resolution}x{resolution}, batch {args.train_batch_size} on "
                f"{accelerator.num_processes} process(es), {args.max_train_steps} steps, starting at {state.step}")
    progress = progress_bar(args, accelerator, state)
    stats = {}
    for _ in progress:
        if args.lr_decay_steps:  # a function of the step alone, so a resumed run follows the same schedule
            decay = min(1.0, (args.max_train_steps - state.step) / args.lr_decay_steps)
            for optimizer, lr in learning_rates.items():
                for group in optimizer.param_groups:
                    group["lr"] = lr * decay
        # k discriminator steps: ascend log D(x) + log(1 - D(G(z))) (or the hinge loss), each on a fresh batch.
        for _ in range(args.d_steps):
            real, labels = draw_batch()
            with accelerator.autocast():
                noise = draw_noise()
                with torch.no_grad():
                    fake = generator(noise, labels)
                if args.r1_gamma > 0:
                    real.requires_grad_(True)
                real_logits, real_class_logits = score(discriminator, real, labels, use_class_loss)
                fake_logits, fake_code_logits = score(discriminator, fake, labels, use_code_loss)
                loss_d = discriminator_loss(args.objective, real_logits.float(), fake_logits.float())
                if use_class_loss:
                    loss_d = loss_d + args.class_loss_weight * F.cross_entropy(real_class_logits.float(), labels)
                if use_code_loss:  # Q learns to read the code off G's images
                    loss_d = loss_d + args.code_loss_weight * F.cross_entropy(fake_code_logits.float(), split_code(noise)[1])
                if args.r1_gamma > 0:
                    loss_d = loss_d + args.r1_gamma / 2 * r1_penalty(real_logits.float(), real)
            optimizer_d.zero_grad(set_to_none=True)
            accelerator.backward(loss_d)
            optimizer_d.step()

        # One generator step: descend log(1 - D(G(z))) (minimax) or its non-saturating / hinge counterpart.
        discriminator_module.requires_grad_(False)
        with accelerator.autocast():
            noise = draw_noise()
            fake_logits_g, fake_class_logits = score(discriminator_module, generator(noise, labels), labels,
                                                     use_class_loss or use_code_loss)
            loss_g = generator_loss(args.objective, fake_logits_g.float())
            if use_class_loss:
                loss_g = loss_g + args.class_loss_weight * F.cross_entropy(fake_class_logits.float(), labels)
            if use_code_loss:  # ... and G to write it legibly
                loss_g = loss_g + args.code_loss_weight * F.cross_entropy(fake_class_logits.float(), split_code(noise)[1])
        optimizer_g.zero_grad(set_to_none=True)
        accelerator.backward(loss_g)
        optimizer_g.step()
        discriminator_module.requires_grad_(True)
        update_ema(ema_generator, accelerator.unwrap_model(generator), 0.0 if args.no_ema else min(args.ema_decay, (1 + state.step) / (10 + state.step)))
        state.step += 1

        # D(x) and D(G(z)) both tend to 1/2 at the equilibrium of the minimax game.
        stats = after_step(args, accelerator, state, progress, lambda: {
            "loss_d": loss_d.item(), "loss_g": loss_g.item(),
            "d_real": torch.sigmoid(real_logits.detach().float()).mean().item(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean().item(),
        }, sample_grid, make_pipeline) or stats

    # -- save the pipeline, a sample grid and the model card; push if asked ------------------------------------------
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        finish_run(args, make_pipeline(), sample_grid(state.step), kind="infogan" if use_code_loss else args.model, final_stats={**stats, "train_minutes": state.train_seconds / 60})
    accelerator.end_training()


if __name__ == "__main__":
    main()
