"""Image-to-image tasks for train_gan.py (`--model pix2pix --task ...`): the (condition, target) pairs, made on the
fly from any image dataset the trainer reads, or read from a paired dataset, and pix2pix's training step.

- super_resolution: the condition is the image shrunk `--scale` times (area average, i.e. box filtering).
- inpainting: a mask (1 = to repaint) per image, of a `--mask_type` drawn per image: `box` (a rectangle of a quarter
  to three quarters of each side), `half` (the top, bottom, left or right half) or `random` (each pixel with
  probability 0.25 to 0.75); the condition is the image with its masked pixels blanked.
- denoising: the image plus Gaussian noise of std `--noise_std` (of the pixel range 0..1), clipped to the range.
- restoration: per image, inpainting or denoising with probability 1/2 (one model for both).
- paired: the condition is the `--condition_column` image of the same row (huggan's imageA / imageB layout).

Seeding: the corruption of global batch number b is drawn from (seed, b) alone, for the whole global batch, and
each process takes its slice, as for the latent noise (utils.IndexBatcher): a resumed run, or one on another number
of processes, trains on exactly the same pairs.
"""

import torch
import torch.nn.functional as F

from ..data import load_image_dataset, prepare_image_dataset
from ..losses import pix2pix_discriminator_loss, pix2pix_generator_loss
from ..models import PatchGANDiscriminator, UNetGenerator
from ..models.pix2pix import compose
from ..pipelines import ImageToImageGANPipeline


TASKS = ("super_resolution", "inpainting", "denoising", "restoration", "paired")
MASK_TYPES = ("box", "half", "random")


def add_task_arguments(parser):
    task = parser.add_argument_group("image-to-image (--model pix2pix)")
    task.add_argument("--task", choices=TASKS, help="how the (condition, target) pairs are made")
    task.add_argument("--scale", type=int, choices=[2, 4], default=4, help="super_resolution: the shrink factor")
    task.add_argument(
        "--mask_type",
        default="box,half,random",
        help=f"inpainting / restoration: comma-separated kinds of mask, one drawn per image ({', '.join(MASK_TYPES)})",
    )
    task.add_argument("--noise_std", type=float, default=0.5, help="denoising: std of the noise, of the range 0..1")
    task.add_argument("--condition_column", help="paired: the dataset's column of condition images (e.g. imageA)")
    task.add_argument("--l1_weight", type=float, default=100.0, help="lambda of pix2pix's L1 term")


def check_task_arguments(args):
    if (args.model == "pix2pix") != bool(args.task):
        raise ValueError("--model pix2pix and --task go together: an image-to-image model needs its --task.")
    if not args.task:
        return
    if args.cuda_graph:
        raise ValueError("--cuda_graph is for --model gan / cgan: drop it for --model pix2pix.")
    if args.streaming:
        raise ValueError("--streaming is for --model gan / cgan: --model pix2pix trains from a dataset in memory.")
    if args.d_steps != 1:  # the loop would draw k batches and train on the last only
        raise ValueError(f"--d_steps {args.d_steps}: pix2pix alternates one D step and one G step; drop --d_steps.")
    if args.architecture != "dcgan" or args.diffaugment:
        raise ValueError(
            "--architecture and --diffaugment are for --model gan / cgan: --model pix2pix has its U-Net and PatchGAN."
        )
    unknown = set(args.mask_type.split(",")) - set(MASK_TYPES)
    if unknown:
        raise ValueError(f"--mask_type {args.mask_type}: {sorted(unknown)} not among {MASK_TYPES}.")
    if args.noise_std <= 0:
        raise ValueError(f"--noise_std must be positive, got {args.noise_std}.")
    if (args.task == "paired") != bool(args.condition_column):
        raise ValueError("--task paired reads its conditions from --condition_column (and only it does).")


def downsample(images: torch.Tensor, scale: int) -> torch.Tensor:
    """Shrinks images `scale` times by averaging scale x scale blocks."""
    return F.avg_pool2d(images, scale)


def random_masks(mask_types: list[str], count: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """(count, 1, size, size) masks, 1 where to repaint, each of a kind drawn from `mask_types`."""
    kinds = torch.randint(len(mask_types), (count,), generator=generator)
    spans = torch.randint(size // 4, 3 * size // 4 + 1, (count, 2), generator=generator)
    corners = (torch.rand(count, 2, generator=generator) * (size - spans + 1)).long()
    halves = torch.randint(4, (count,), generator=generator)
    densities = 0.25 + 0.5 * torch.rand(count, 1, 1, 1, generator=generator)
    pixels = torch.rand(count, 1, size, size, generator=generator)
    rows = torch.arange(size)[:, None].expand(size, size)
    cols = rows.T
    masks = torch.zeros(count, 1, size, size)
    for i in range(count):
        kind = mask_types[kinds[i]]
        if kind == "box":
            (h, w), (top, left) = spans[i].tolist(), corners[i].tolist()
            masks[i, :, top : top + h, left : left + w] = 1
        elif kind == "half":
            coordinate = rows if halves[i] < 2 else cols
            masks[i, 0] = (coordinate >= size // 2) if halves[i] % 2 else (coordinate < size // 2)
        else:
            masks[i] = (pixels[i] < densities[i]).float()
    return masks


def add_noise(images: torch.Tensor, noise_std: float, noise: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] plus standard-normal `noise` scaled to std `noise_std` of the range 0..1 (so 2 x that in
    [-1, 1]), clipped to the range."""
    return (images + 2 * noise_std * noise.to(images)).clamp(-1, 1)


class PairMaker:
    """(condition, mask or None, target) for a process's slice of a global batch, a function of (seed, batch number)
    alone. Targets are the dataset's images in [-1, 1]."""

    def __init__(self, args, accelerator, local_batch_size: int, conditions: torch.Tensor | None = None):
        self.task, self.scale, self.noise_std = args.task, args.scale, args.noise_std
        self.mask_types = args.mask_type.split(",")
        self.seed, self.global_batch_size = args.seed, args.train_batch_size
        self.start = accelerator.process_index * local_batch_size
        self.local_batch_size, self.conditions = local_batch_size, conditions

    def __call__(self, target: torch.Tensor, batch_number: int, indices: torch.Tensor | None = None):
        if self.task == "paired":
            condition = self.conditions[indices].to(target.device).float().div_(127.5).sub_(1)
            return condition, None, target
        if self.task == "super_resolution":
            return downsample(target, self.scale), None, target
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + batch_number)
        size, mine = target.shape[-1], slice(self.start, self.start + self.local_batch_size)
        shape = (self.global_batch_size, *target.shape[1:])
        masks = random_masks(self.mask_types, self.global_batch_size, size, generator)[mine].to(target)
        noisy = add_noise(target, self.noise_std, torch.randn(shape, generator=generator)[mine])
        if self.task == "inpainting":
            return target, masks, target  # G blanks the masked pixels itself (models.pix2pix.condition_input)
        if self.task == "denoising":
            return noisy, None, target
        use_mask = (torch.rand(self.global_batch_size, generator=generator) < 0.5)[mine].to(target.device)
        condition = torch.where(use_mask[:, None, None, None], target, noisy)
        return condition, masks * use_mask[:, None, None, None], target


def load_conditions(args, num_images: int) -> torch.Tensor:
    """The uint8 condition images (N, C, H, W) of a paired dataset, row by row with the targets."""
    dataset = load_image_dataset(args.dataset_name, args.dataset_split, cache_dir=args.cache_dir)
    conditions = prepare_image_dataset(
        dataset, args.condition_column, resolution=args.resolution, num_channels=args.num_channels
    ).images[:num_images]
    if len(conditions) != num_images:
        raise ValueError(f"{args.condition_column} has {len(conditions)} images for {num_images} targets.")
    return conditions


def build_models(args, channels: int, resolution: int, condition_channels: int):
    """A new U-Net G and PatchGAN D for the task's pairs, or those of --pretrained_model_name_or_path."""
    if args.pretrained_model_name_or_path:
        pretrained = ImageToImageGANPipeline.from_pretrained(args.pretrained_model_name_or_path)
        if pretrained.discriminator is None:
            raise ValueError(f"{args.pretrained_model_name_or_path} has no discriminator to fine-tune.")
        return pretrained.generator, pretrained.discriminator
    shape = {
        "sample_size": resolution,
        "in_channels": condition_channels,
        "out_channels": channels,
        "condition_size": resolution // args.scale if args.task == "super_resolution" else resolution,
        "mask_channel": args.task in ("inpainting", "restoration"),
        "num_down": 2 if resolution % 4 == 0 else 1,
    }
    generator = UNetGenerator(**shape, base_channels=args.generator_channels, latent_dim=args.latent_dim)
    discriminator = PatchGANDiscriminator(
        **shape, base_channels=args.discriminator_channels, norm=args.discriminator_norm
    )
    return generator, discriminator


def training_step(args, accelerator, models, optimizers, pairs, latents):
    """pix2pix's alternating step: D on (x, y) against (x, G(x, z)), then G on the cGAN loss + lambda L1. Inpainted
    outputs keep their known pixels (`compose`), as the pipeline returns them. Returns the losses and D's logits."""
    generator, discriminator, discriminator_module = models
    optimizer_g, optimizer_d = optimizers
    condition, mask, target = pairs
    with accelerator.autocast():
        with torch.no_grad():
            fake = compose(generator(condition, mask, latents), condition, mask)
        real_logits = discriminator(condition, target, mask)
        fake_logits = discriminator(condition, fake, mask)
        loss_d = pix2pix_discriminator_loss(args.objective, real_logits.float(), fake_logits.float())
    optimizer_d.zero_grad(set_to_none=True)
    accelerator.backward(loss_d)
    optimizer_d.step()

    discriminator_module.requires_grad_(False)  # as train_gan.generator_step: no DDP hooks, no gradient into D
    with accelerator.autocast():
        fake = compose(generator(condition, mask, latents), condition, mask)
        loss_g = pix2pix_generator_loss(
            args.objective, discriminator_module(condition, fake, mask).float(), fake.float(), target, args.l1_weight
        )
    optimizer_g.zero_grad(set_to_none=True)
    accelerator.backward(loss_g)
    optimizer_g.step()
    discriminator_module.requires_grad_(True)
    return loss_d, loss_g, real_logits, fake_logits


@torch.no_grad()
def before_after_grid(ema_generator, pairs, latents=None):
    """Rows of 8: the conditions (enlarged, masked pixels grey), the outputs, the targets; floats in [-1, 1]."""
    condition, mask, target = (None if t is None else t[:8] for t in pairs)
    ema_generator.eval()
    output = compose(ema_generator(condition, mask, latents), condition, mask)
    size = target.shape[-1]
    shown = F.interpolate(condition, size=(size, size), mode="nearest")
    if mask is not None:
        shown = shown * (1 - mask)
    return torch.cat([shown, output, target])
