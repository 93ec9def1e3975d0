"""Train a GAN or a class-conditional GAN with accelerate, and save it as an hf_gan pipeline.

    accelerate launch -m hf_gan.training.train_gan --config mnist_cgan --dataset_name ./mnist
    accelerate launch -m hf_gan.training.train_gan --dataset_name ./my_images --model gan --resolution 64 \\
        --output_dir out

Goodfellow et al.'s algorithm: each step takes `--d_steps` stochastic-gradient steps on the discriminator D (ascending
log D(x) + log(1 - D(G(z))), or the hinge variant), then one step on the generator G. An EMA copy of G is what gets
sampled and saved. With --categorical_code, the unconditional GAN is an InfoGAN: D also learns to read G's
categorical code off its images and G to keep it readable. The whole dataset sits in memory as uint8 and batches are
gathered by index (hf_gan.data); a dataset larger than memory is streamed instead (--streaming, hf_gan.streaming).
"""

import argparse
import copy
import functools

import torch
import torch.nn.functional as F
from accelerate.logging import get_logger

from ..augment import diff_augment, parse_policy
from ..losses import OBJECTIVES, discriminator_loss, generator_loss, r1_penalty
from ..models import DCGANDiscriminator, DCGANGenerator, ResNetDiscriminator, ResNetGenerator
from ..pipelines import ConditionalGANPipeline, GANPipeline, ImageToImageGANPipeline
from ..streaming import add_arguments as add_streaming_arguments
from ..visuals import upscale
from . import tasks
from .checkpointing import bare_model
from .utils import (
    TrainingState,
    add_common_arguments,
    after_step,
    finish_run,
    follow_stream,
    image_grid,
    init_trackers,
    load_training_data,
    make_accelerator,
    open_run_folder,
    prepare_run,
    progress_bar,
    save_sample_grid,
    standing_statistics,
    update_ema,
)


logger = get_logger(__name__)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, default_output_dir="outputs/gan")
    add_streaming_arguments(parser)
    model = parser.add_argument_group("model")
    model.add_argument(
        "--model",
        choices=["gan", "cgan", "pix2pix"],
        default="cgan",
        help="unconditional, class-conditional, or image-conditional (pix2pix, with --task)",
    )
    model.add_argument(
        "--architecture",
        choices=["dcgan", "resnet"],
        default="dcgan",
        help="DCGAN's strided convolutions, or SNGAN/BigGAN-style residual networks for colour images of 32 px and up",
    )
    model.add_argument("--pretrained_model_name_or_path", help="fine-tune the G and D of this hf_gan pipeline")
    model.add_argument("--latent_dim", type=int, default=64)
    model.add_argument("--generator_channels", type=int, default=32, help="G width at full resolution")
    model.add_argument("--discriminator_channels", type=int, default=32, help="D width at full resolution")
    model.add_argument(
        "--conditioning",
        choices=["projection", "concat"],
        default="projection",
        help="how D sees the label: projection (default) or the one-hot channels of Mirza & Osindero",
    )
    model.add_argument(
        "--class_conditional_norm",
        action="store_true",
        help="G's BatchNorms take their scale and shift from the label (cGAN) or the categorical code",
    )
    model.add_argument(
        "--discriminator_extra_layers",
        type=int,
        default=0,
        help="3x3 convolutions added to D at its lowest resolution (deeper D, see ConvEncoder)",
    )
    model.add_argument("--discriminator_norm", choices=["spectral", "batch", "none"], default="spectral")
    model.add_argument(
        "--class_loss_weight",
        type=float,
        default=0.0,
        help="AC-GAN: D also classifies real images and G is trained to make its fakes classified as "
        "the label asked for, with this weight (0: off)",
    )
    model.add_argument(
        "--categorical_code",
        type=int,
        default=0,
        help="unconditional GAN: InfoGAN's categorical latent code with this many values, which D's "
        "auxiliary head learns to recover from G's images (0: off; the MNIST preset uses 20)",
    )
    model.add_argument(
        "--code_loss_weight",
        type=float,
        default=1.0,
        help="InfoGAN: weight of the code-recovery (mutual information) loss, for G and D",
    )
    train = parser.add_argument_group("objective and optimisation")
    train.add_argument("--objective", choices=OBJECTIVES, default="hinge")
    train.add_argument(
        "--max_train_minutes",
        type=float,
        help="also stop once the training steps have taken this many minutes (checked on logging steps), for runs "
        "compared at equal wall-clock time (benchmarks/emoji_peers.py)",
    )
    train.add_argument("--d_steps", type=int, default=1, help="discriminator steps per generator step (k)")
    train.add_argument("--generator_lr", type=float, default=2e-4)
    train.add_argument("--discriminator_lr", type=float, default=2e-4)
    train.add_argument(
        "--lr_decay_steps",
        type=int,
        default=0,
        help="the learning rates fall linearly to 0 over this many last steps (0: constant)",
    )
    train.add_argument("--adam_beta1", type=float, default=0.0)
    train.add_argument("--adam_beta2", type=float, default=0.99)
    train.add_argument(
        "--diffaugment",
        default="",
        help="DiffAugment transforms applied to real and fake images alike whenever D sees them, e.g. "
        "color,translation,cutout (hf_gan.augment; default: none)",
    )
    train.add_argument("--r1_gamma", type=float, default=0.0, help="weight of the R1 penalty on real data (0: off)")
    train.add_argument("--ema_decay", type=float, default=0.999, help="EMA of the generator's weights")
    train.add_argument("--no_ema", action="store_true", help="save and sample the raw generator")
    train.add_argument(
        "--standing_statistics_batches",
        type=int,
        default=0,
        help="recompute the EMA generator's BatchNorm statistics from this many batches of its own activations "
        "before it is sampled or saved (BigGAN's standing statistics; 0: keep the live generator's, as before)",
    )
    train.add_argument(
        "--cuda_graph",
        action="store_true",
        help="replay each training step as one CUDA graph (one GPU, the dataset on it): a small GAN's step is bound "
        "by kernel launches, which the graph does away with (docs/benchmarks.md, 'On a GPU')",
    )
    tasks.add_task_arguments(parser)
    return parser


def check_model_arguments(args):
    if args.class_loss_weight > 0 and args.model != "cgan":
        raise ValueError("--class_loss_weight needs a class-conditional model (--model cgan).")
    if args.categorical_code and args.model == "cgan":
        raise ValueError("--categorical_code is for an unconditional model (--model gan): a cGAN has its labels.")
    if args.cuda_graph and args.r1_gamma > 0:
        raise ValueError("--cuda_graph does not capture the R1 penalty's double backward: drop one of the two.")
    parse_policy(args.diffaugment)
    if args.architecture == "resnet" and (args.categorical_code or args.conditioning != "projection"):
        raise ValueError(
            "--architecture resnet conditions D by projection and has no InfoGAN code: drop --categorical_code and "
            "--conditioning concat, or use --architecture dcgan."
        )
    if args.architecture == "resnet" and (args.discriminator_extra_layers or args.discriminator_norm != "spectral"):
        raise ValueError(
            "--discriminator_extra_layers and --discriminator_norm are DCGAN options; the residual D is always "
            "spectrally normalised: drop them with --architecture resnet."
        )
    if args.standing_statistics_batches and (args.model == "pix2pix" or args.no_ema):
        raise ValueError(
            "--standing_statistics_batches recomputes the EMA generator's statistics from latents (and labels): it "
            "is for --model gan or cgan with an EMA; drop it with --model pix2pix or --no_ema."
        )
    tasks.check_task_arguments(args)


def check_cuda_graph(accelerator, data):
    """--cuda_graph replays a fixed sequence of GPU work: one process, one GPU, batches gathered on it."""
    if accelerator.device.type != "cuda" or accelerator.num_processes > 1:
        raise ValueError(
            f"--cuda_graph needs a single CUDA GPU; this run has {accelerator.num_processes} process(es) on "
            f"{accelerator.device.type}. Leave it out here."
        )
    if data.images.device.type != "cuda":
        raise ValueError(
            "--cuda_graph needs the dataset on the GPU, and it takes more than a quarter of the GPU's free memory "
            "here: leave --cuda_graph out, or lower --max_train_samples or --resolution."
        )


def build_models(args, num_classes, channels, resolution):
    """G and D: new ones, or those of --pretrained_model_name_or_path to fine-tune."""
    if not args.pretrained_model_name_or_path and args.architecture == "resnet":
        generator = ResNetGenerator(
            latent_dim=args.latent_dim,
            sample_size=resolution,
            out_channels=channels,
            base_channels=args.generator_channels,
            num_classes=num_classes,
        )
        discriminator = ResNetDiscriminator(
            sample_size=resolution,
            in_channels=channels,
            base_channels=args.discriminator_channels,
            num_classes=num_classes,
            auxiliary_classifier=args.class_loss_weight > 0,
        )
        return generator, discriminator
    if not args.pretrained_model_name_or_path:
        generator = DCGANGenerator(
            latent_dim=args.latent_dim,
            sample_size=resolution,
            out_channels=channels,
            base_channels=args.generator_channels,
            num_classes=num_classes,
            class_conditional_norm=(num_classes is not None or args.categorical_code > 0)
            and args.class_conditional_norm,
            categorical_code=args.categorical_code,
        )
        discriminator = DCGANDiscriminator(
            sample_size=resolution,
            in_channels=channels,
            base_channels=args.discriminator_channels,
            num_classes=num_classes,
            conditioning=args.conditioning,
            norm=args.discriminator_norm,
            auxiliary_classifier=args.class_loss_weight > 0,
            extra_layers=args.discriminator_extra_layers,
            categorical_code=args.categorical_code,
        )
        return generator, discriminator
    pipeline_class = ConditionalGANPipeline if num_classes else GANPipeline
    pretrained = pipeline_class.from_pretrained(args.pretrained_model_name_or_path)
    generator, discriminator = pretrained.generator, pretrained.discriminator
    if discriminator is None:
        raise ValueError(
            f"{args.pretrained_model_name_or_path} has no discriminator to fine-tune; train from scratch."
        )
    config = generator.config
    if (config.sample_size, config.out_channels, config.num_classes) != (resolution, channels, num_classes):
        raise ValueError(
            f"{args.pretrained_model_name_or_path} makes {config.out_channels}x{config.sample_size}px images for "
            f"{config.num_classes} classes; the dataset has {channels}x{resolution}px, {num_classes}."
        )
    return generator, discriminator


def grid_latents(args, latent_dim, num_classes, code_size):
    """Fixed latents (and labels) for sample grids: 8 per row, one row per class of a conditional model, per code
    value of an InfoGAN, else 8 rows."""
    rows = min(num_classes or code_size or 8, 10)
    latents = torch.randn(rows * 8, latent_dim, generator=torch.Generator().manual_seed(args.seed + 1))
    row_ids = torch.arange(rows).repeat_interleave(8)
    if code_size:  # latents whose last entries have their maximum at the row's code
        latents[:, -code_size:] = F.one_hot(row_ids, code_size)
    return latents, row_ids if num_classes else None


def sampling_copy(args, ema_generator, training_labels):
    """A copy of the EMA generator to sample and save, in eval mode; with --standing_statistics_batches, with
    BatchNorm statistics of its own (labels drawn from `training_labels`; seeded apart from the run's noise)."""
    if not args.standing_statistics_batches:
        return copy.deepcopy(ema_generator).eval()
    batches, batch_size = args.standing_statistics_batches, args.train_batch_size
    return standing_statistics(ema_generator, batches, batch_size, training_labels, seed=args.seed + 2)


@torch.no_grad()
def sample_grid(args, accelerator, ema_generator, training_labels, latents, labels, step):
    """Saves (and logs) a grid of the EMA generator's images of the fixed grid latents."""
    g = sampling_copy(args, ema_generator, training_labels)
    images = g(latents.to(accelerator.device), None if labels is None else labels.to(accelerator.device))
    rows = len(latents) // 8
    return save_sample_grid(args, accelerator, image_grid(images, rows), step)


def make_pipeline(args, accelerator, generator, discriminator, ema_generator, training_labels, label_names):
    """A pipeline of copies of the EMA (or, with --no_ema, the raw) generator and of the discriminator."""
    if args.no_ema:
        g = copy.deepcopy(bare_model(accelerator, generator)).eval()
    else:
        g = sampling_copy(args, ema_generator, training_labels)
    g = g.to(memory_format=torch.contiguous_format)
    d = copy.deepcopy(bare_model(accelerator, discriminator)).eval().to(memory_format=torch.contiguous_format)
    if args.model == "pix2pix":
        return ImageToImageGANPipeline(g, d)
    if label_names is not None:
        return ConditionalGANPipeline(g, d, id2label=dict(enumerate(label_names)))
    return GANPipeline(g, d)


def memory_format(device: torch.device) -> torch.memory_format:
    """The networks' layout in training. On a CPU, channels-last: oneDNN convolves it fastest (9 % faster steps on 2
    cores; the saved pipelines are converted back). On a GPU the step is bound by kernel launches, not convolutions,
    and fused Adam failed there on channels-last weights (a gradient in another layout, docs/experiments.md)."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def set_learning_rates(args, state, learning_rates):
    """With --lr_decay_steps, the rates fall linearly to 0 over the last steps: a function of the step alone, so a
    resumed run follows the same schedule."""
    decay = min(1.0, (args.max_train_steps - state.step) / args.lr_decay_steps)
    for optimizer, lr in learning_rates.items():
        for group in optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):  # a CUDA graph's Adam reads its rate from this tensor
                group["lr"].fill_(lr * decay)
            else:
                group["lr"] = lr * decay


def make_graph_safe(optimizer, device):
    """Adam as a CUDA graph can replay it: capturable, with its rate in a GPU tensor that the schedule fills."""
    for group in optimizer.param_groups:
        group["capturable"] = True
        group["lr"] = torch.tensor(float(group["lr"]), device=device)


def cuda_graphed(step, generator, warmup_steps=3):
    """`step(*inputs)` (tensors or floats) replayed as one CUDA graph. Each call copies its inputs into the graph's
    own and returns the graph's outputs, overwritten by the next call. The first `warmup_steps` calls run eagerly on
    a side stream, as capture asks (cuDNN picks its kernels, Adam makes its state), the next one is captured.
    `generator`, the step's noise, advances with each replay as it would eagerly."""
    graph, side = torch.cuda.CUDAGraph(), torch.cuda.Stream(generator.device)
    graph.register_generator_state(generator)
    inputs, outputs, calls = None, None, 0

    def replay(*values):
        nonlocal inputs, outputs, calls
        if inputs is None:
            inputs = [torch.tensor(v, device=generator.device) if isinstance(v, float) else v.clone() for v in values]
        for tensor, value in zip(inputs, values):
            tensor.fill_(value) if isinstance(value, float) else tensor.copy_(value)  # no host sync either way
        if calls < warmup_steps:
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                outputs = step(*inputs)
            torch.cuda.current_stream().wait_stream(side)
        else:
            if calls == warmup_steps:
                with torch.cuda.graph(graph):
                    outputs = step(*inputs)
            graph.replay()
        calls += 1
        return outputs

    return replay


def real_batch(data, indices, device, conditional):
    """Real images in [-1, 1] and their labels, at `indices` (this process's slice of a global batch)."""
    images = data.images[indices].to(device, non_blocking=True).float().div_(127.5).sub_(1)
    images = images.contiguous(memory_format=memory_format(device))
    return images, data.labels[indices].to(device) if conditional else None


def next_noise(args, state, batcher, accelerator, latent_dim):
    """This process's slice of one global batch of noise, so the run does not depend on the process count."""
    noise = torch.randn(args.train_batch_size, latent_dim, generator=state.noise, device=state.noise.device)
    start = accelerator.process_index * batcher.local_batch_size
    return noise[start : start + batcher.local_batch_size]


def discriminate(discriminator, images, labels, class_logits=False, code_logits=False):
    """D's real/fake logits and, if asked, its AC-GAN class logits or InfoGAN code logits (else None)."""
    if class_logits:
        return discriminator(images, labels, return_class_logits=True)
    if code_logits:
        return discriminator(images, labels, return_code_logits=True)
    return discriminator(images, labels), None


def discriminator_step(
    args, accelerator, generator, discriminator, config, optimizer, real, labels, noise, split_code, augment
):
    """One step on D: ascend log D(x) + log(1 - D(G(z))) (or the hinge loss), plus the AC-GAN class loss on real
    images and the InfoGAN code loss on fakes where they are on. D sees real and fake images through `augment`
    (DiffAugment, or none). Returns the loss and the real and fake logits."""
    with accelerator.autocast():
        with torch.no_grad():
            fake = generator(noise, labels)
        if args.r1_gamma > 0:
            real.requires_grad_(True)
        real_logits, class_logits = discriminate(
            discriminator, augment(real), labels, class_logits=config.auxiliary_classifier
        )
        fake_logits, code_logits = discriminate(
            discriminator, augment(fake), labels, code_logits=getattr(config, "categorical_code", 0) > 0
        )
        loss = discriminator_loss(args.objective, real_logits.float(), fake_logits.float())
        if class_logits is not None:
            loss = loss + args.class_loss_weight * F.cross_entropy(class_logits.float(), labels)
        if code_logits is not None:  # Q learns to read the code off G's images
            loss = loss + args.code_loss_weight * F.cross_entropy(code_logits.float(), split_code(noise)[1])
        if args.r1_gamma > 0:
            loss = loss + args.r1_gamma / 2 * r1_penalty(real_logits.float(), real)
    optimizer.zero_grad(set_to_none=True)
    accelerator.backward(loss)
    optimizer.step()
    return loss, real_logits, fake_logits


def generator_step(args, accelerator, generator, discriminator_module, optimizer, labels, noise, split_code, augment):
    """One step on G: descend log(1 - D(G(z))) (minimax) or its non-saturating / hinge counterpart, plus the
    AC-GAN class loss (G's fakes should be classified as the label asked for) or the InfoGAN code loss (G should
    write its code legibly). D sees the fakes through the same `augment` as in its own step, which G's gradient
    passes through.

    D runs without DDP's hooks and with its weights frozen: no gradient reaches D then, so DDP never sees
    parameters that were used but not reduced (no find_unused_parameters needed)."""
    config = discriminator_module.config
    code_size = getattr(config, "categorical_code", 0)
    discriminator_module.requires_grad_(False)
    with accelerator.autocast():
        fake_logits, aux_logits = discriminate(
            discriminator_module,
            augment(generator(noise, labels)),
            labels,
            class_logits=config.auxiliary_classifier,
            code_logits=code_size > 0,
        )
        loss = generator_loss(args.objective, fake_logits.float())
        if config.auxiliary_classifier:
            loss = loss + args.class_loss_weight * F.cross_entropy(aux_logits.float(), labels)
        if code_size:
            loss = loss + args.code_loss_weight * F.cross_entropy(aux_logits.float(), split_code(noise)[1])
    optimizer.zero_grad(set_to_none=True)
    accelerator.backward(loss)
    optimizer.step()
    discriminator_module.requires_grad_(True)
    return loss


def step_stats(loss_d, loss_g, real_logits, fake_logits) -> dict:
    """The losses, and D(x) and D(G(z)), which both tend to 1/2 at the equilibrium of the minimax game. A host
    sync: only on logging steps."""
    return {
        "loss_d": loss_d.item(),
        "loss_g": loss_g.item(),
        "d_real": torch.sigmoid(real_logits.detach().float()).mean().item(),
        "d_fake": torch.sigmoid(fake_logits.detach().float()).mean().item(),
    }


def main(argv=None):
    args = prepare_run(parse_args(), argv)
    check_model_arguments(args)
    accelerator = make_accelerator(args, cuda_graph=args.cuda_graph)
    with open_run_folder(args, accelerator) as run:
        train(args, accelerator, run)


def train(args, accelerator, run):
    conditional, image_to_image = args.model == "cgan", args.model == "pix2pix"

    # pix2pix's pairs (a paired dataset's conditions, the before/after grid) index the dataset: it is never streamed
    data, batcher = load_training_data(args, accelerator, require_labels=conditional, may_stream=not image_to_image)
    if image_to_image:  # the (condition, target) pairs of --task, a function of (seed, batch number)
        conditions = tasks.load_conditions(args, len(data)) if args.task == "paired" else None
        make_pairs = tasks.PairMaker(args, accelerator, batcher.local_batch_size, conditions)
    if args.cuda_graph:
        check_cuda_graph(accelerator, data)
    label_names = data.label_names if conditional else None
    _, channels, resolution, _ = data.images.shape

    if image_to_image:
        condition_channels = channels if conditions is None else conditions.shape[1]
        generator, discriminator = tasks.build_models(args, channels, resolution, condition_channels)
    else:
        generator, discriminator = build_models(args, len(label_names) if conditional else None, channels, resolution)
    generator.train()
    discriminator.train()
    layout = memory_format(accelerator.device)
    generator.to(accelerator.device, memory_format=layout)
    discriminator.to(accelerator.device, memory_format=layout)
    ema_generator = copy.deepcopy(generator).requires_grad_(False)
    latent_dim, code_size = generator.config.latent_dim, getattr(generator.config, "categorical_code", 0)
    # on a GPU, fused Adam: one kernel per step, and fp16's loss scaling skips steps without a host sync
    adam = functools.partial(
        torch.optim.Adam, betas=(args.adam_beta1, args.adam_beta2), fused=accelerator.device.type == "cuda" or None
    )
    optimizer_g = adam(generator.parameters(), lr=args.generator_lr)
    optimizer_d = adam(discriminator.parameters(), lr=args.discriminator_lr)
    generator, discriminator, optimizer_g, optimizer_d = accelerator.prepare(
        generator, discriminator, optimizer_g, optimizer_d
    )
    # the bare modules, looked up once: the generator step's D (outside DDP), the EMA's source, D's config
    generator_module, discriminator_module = bare_model(accelerator, generator), bare_model(accelerator, discriminator)
    discriminator_config = discriminator_module.config
    if args.compile:  # the generator step's D, outside DDP, compiled as accelerate compiled the prepared models
        discriminator_module = torch.compile(discriminator_module, **accelerator.state.dynamo_plugin.to_kwargs())
    split_code = getattr(generator_module, "split_code", None)  # InfoGAN's (DCGAN only)

    models = {"generator": generator, "discriminator": discriminator, "ema_generator": ema_generator}
    optimizers = {"generator": optimizer_g, "discriminator": optimizer_d}
    state = TrainingState(args.seed, models, optimizers, device=accelerator.device)
    follow_stream(state, batcher, run, accelerator, args)
    learning_rates = {optimizer_g: args.generator_lr, optimizer_d: args.discriminator_lr}
    state.resume_if_asked(run, accelerator, learning_rates)
    # from the checkpointed noise generator: a resumed run draws the transforms an uninterrupted one would
    augment = functools.partial(diff_augment, policy=parse_policy(args.diffaugment), generator=state.noise)
    init_trackers(args, accelerator)
    grid = grid_latents(args, latent_dim, len(label_names) if conditional else None, code_size)
    training_labels = data.labels if conditional else None  # in memory: all of them; streamed: the batches at hand
    save_grid = functools.partial(sample_grid, args, accelerator, ema_generator, training_labels, *grid)
    if image_to_image:  # fixed pairs of the first batch: conditions, outputs and targets in rows
        grid_indices = batcher.indices(0)
        grid_pairs = make_pairs(real_batch(data, grid_indices, accelerator.device, False)[0], 0, grid_indices)
        before_after = functools.partial(
            tasks.before_after_grid, ema_generator, grid_pairs, grid[0][:8].to(accelerator.device)
        )
        save_grid = lambda step: save_sample_grid(args, accelerator, image_grid(before_after(), 3), step)  # noqa: E731
    pipeline = functools.partial(
        make_pipeline, args, accelerator, generator, discriminator, ema_generator, training_labels, label_names
    )

    logger.info(
        f"{len(data)} images {channels}x{resolution}x{resolution}, batch {args.train_batch_size} on "
        f"{accelerator.num_processes} process(es), {args.max_train_steps} steps, starting at {state.step}"
    )

    def training_step(indices, ema_decay):
        """k steps on D, one on each batch of `indices` (k x batch), a step on G, and the EMA update."""
        if image_to_image:  # pix2pix's D and G steps on the pairs of the batch (--d_steps is 1: tasks.py)
            real, _ = real_batch(data, indices[-1], accelerator.device, False)
            pairs = make_pairs(real, state.batches_seen - 1, indices[-1])
            noise = next_noise(args, state, batcher, accelerator, latent_dim)
            step_models = (generator, discriminator, discriminator_module)
            losses = tasks.training_step(args, accelerator, step_models, (optimizer_g, optimizer_d), pairs, noise)
            update_ema(ema_generator, generator_module, ema_decay)
            return losses
        for batch_indices in indices:
            real, labels = real_batch(data, batch_indices, accelerator.device, conditional)
            noise = next_noise(args, state, batcher, accelerator, latent_dim)
            loss_d, real_logits, fake_logits = discriminator_step(
                args,
                accelerator,
                generator,
                discriminator,
                discriminator_config,
                optimizer_d,
                real,
                labels,
                noise,
                split_code,
                augment,
            )
        noise = next_noise(args, state, batcher, accelerator, latent_dim)
        loss_g = generator_step(
            args, accelerator, generator, discriminator_module, optimizer_g, labels, noise, split_code, augment
        )
        update_ema(ema_generator, generator_module, ema_decay)
        return loss_d, loss_g, real_logits, fake_logits

    if args.cuda_graph:
        for optimizer in optimizers.values():
            make_graph_safe(optimizer, accelerator.device)
        training_step = cuda_graphed(training_step, state.noise)

    progress = progress_bar(args, accelerator, state)
    for _ in progress:
        if args.lr_decay_steps:
            set_learning_rates(args, state, learning_rates)
        indices = torch.stack([batcher.indices(state.batches_seen + k) for k in range(args.d_steps)])
        state.batches_seen += args.d_steps
        ema_decay = 0.0 if args.no_ema else min(args.ema_decay, (1 + state.step) / (10 + state.step))
        loss_d, loss_g, real_logits, fake_logits = training_step(indices, ema_decay)
        state.step += 1
        after_step(
            args,
            accelerator,
            run,
            state,
            progress,
            lambda: step_stats(loss_d, loss_g, real_logits, fake_logits),
            save_grid,
            pipeline,
        )
        if args.max_train_minutes and state.train_seconds >= 60 * args.max_train_minutes:
            break

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_grid(state.step)
        finish_run(
            args,
            pipeline(),
            kind="infogan" if code_size else args.model,
            final_stats={**state.stats, "train_minutes": state.train_seconds / 60, "steps": state.step},
            samples=upscale([image_grid(before_after(), 3)], 4)[0] if image_to_image else None,
        )
    accelerator.end_training()


if __name__ == "__main__":
    main()
