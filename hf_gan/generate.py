"""`hf-gan generate MODEL`: images from a pipeline folder or Hub repo id, upscaled for people and reproducible.

Image j of each class (or of the run) is drawn with seed + j, so `--seed S --num_images 1` gives again the image that
seed S gave in any larger run (see hf_gan.visuals). `--interpolate SEED_A SEED_B` writes an animation instead.
`--image FILE` (and `--mask FILE`, white where to repaint) restores that image instead: with an image-to-image
pipeline by its generator, with a GAN or cGAN by latent search (`restore`).
Nothing is written before everything is generated, and no half-written file is ever left (hf_gan.visuals.save_images).
"""

import os
import re

import PIL.Image
import torch

from .pipelines import HfGanPipeline, ImageToImageGANPipeline
from .pipelines.pipeline_utils import check_truncation
from .visuals import (
    ANIMATION_FORMATS,
    RESAMPLING,
    animation_options,
    interpolation_frames,
    interpolation_strip,
    labelled_grid,
    sample_images,
    save_images,
    upscale,
)


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a pipeline folder or Hub repo id")
    parser.add_argument(
        "--labels",
        help="comma-separated class ids or names, e.g. 3,7 or cat,dog (conditional "
        "models; every class by default), or an InfoGAN's code values",
    )
    parser.add_argument("--num_images", type=int, default=1, help="images per class (conditional) or in all")
    parser.add_argument("--seed", type=int, default=0, help="image j of each class uses seed + j")
    parser.add_argument("--truncation", type=float, default=1.0, help="truncation psi in [0, 1]; 1.0: none")
    parser.add_argument(
        "--grid", action="store_true", help="write one labelled grid (a row per class) instead of separate images"
    )
    parser.add_argument("--scale", type=int, default=4, help="upscaling factor (default 4: 28 px -> 112 px)")
    parser.add_argument("--resample", default="nearest", choices=list(RESAMPLING), help="upscaling filter")
    parser.add_argument(
        "--output",
        help="a .png file (one image, or the --grid), or a folder of PNGs; with "
        "--interpolate a .gif or .webp (the strip goes beside it as .png). Default: generated.png, "
        "generated/ or interpolation.gif",
    )
    parser.add_argument(
        "--interpolate",
        nargs=2,
        type=int,
        metavar=("SEED_A", "SEED_B"),
        help="frames along the spherical path between two seeds' latents (with --labels: one class, or two to blend)",
    )
    parser.add_argument("--frames", type=int, default=10, help="number of --interpolate frames")
    parser.add_argument("--duration", type=int, default=100, help="milliseconds per animation frame")
    parser.add_argument(
        "--transparent",
        action="store_true",
        help="require transparent PNGs: the model's alpha channel (a model trained with --num_channels 4 writes RGBA "
        "PNGs in any case; with this flag an RGB model is an error rather than opaque images)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--image",
        help="restore this image file: an image-to-image model's input (e.g. 7x7 for x4 super-resolution), or a "
        "GAN's / cGAN's corrupted image, restored by latent search (--labels: the cGAN's class, if known)",
    )
    parser.add_argument("--mask", help="with --image: a mask file, white where pixels are to be repainted")
    parser.add_argument("--steps", type=int, default=200, help="latent-search steps (GAN / cGAN with --image)")


def parse_labels(text: str | None, pipe) -> list | None:
    """'3,7' -> [3, 7]; names stay names ('cat,dog'); a name that looks like a number is read as the name."""
    if text is None:
        return None
    names = getattr(pipe, "labels", {})
    tokens = [token.strip() for token in text.split(",") if token.strip()]
    return [token if token in names or not re.fullmatch(r"-?\d+", token) else int(token) for token in tokens]


def check_arguments(args) -> None:
    """Argument errors that need no model: found before anything is loaded or written."""
    check_truncation(args.truncation)
    for name in ("num_images", "scale", "duration"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be a positive integer, got {getattr(args, name)}.")
    if args.mask and not args.image:
        raise ValueError("--mask goes with --image: pass the image to restore.")
    if args.image and args.interpolate:
        raise ValueError("--image restores an image; --interpolate makes an animation: pass one of them.")
    if args.interpolate and args.frames < 2:
        raise ValueError(f"--frames must be at least 2 (the two ends), got {args.frames}.")
    if args.interpolate and args.output and os.path.splitext(args.output)[1].lower() not in ANIMATION_FORMATS:
        raise ValueError(
            f"--interpolate writes an animation: --output must end in {' or '.join(ANIMATION_FORMATS)}, "
            f"got {args.output}."
        )


def output_folder(path: str) -> str:
    """Creates `path` (a folder) if needed, with an error that names it when it cannot be."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"Cannot write to {path}: it is a file, not a folder. Nothing was written.")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise OSError(f"Cannot write to {path}: {error.strerror or error}. Nothing was written.") from error
    return path


def open_image(path: str, what: str) -> PIL.Image.Image:
    try:
        with PIL.Image.open(path) as image:
            image.load()
            return image
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot read the {what} {path}: {error}. Nothing was written.") from error


def restore_image(args, pipe) -> PIL.Image.Image:
    """The restored --image (with --mask): the image-to-image generator's output, or a GAN's latent search."""
    image = open_image(args.image, "--image")
    mask = open_image(args.mask, "--mask") if args.mask else None
    generator = torch.Generator().manual_seed(args.seed)
    if isinstance(pipe, ImageToImageGANPipeline):
        return pipe(image, mask, generator=generator).images[0]
    if not hasattr(pipe, "restore"):
        raise ValueError(
            f"--image needs an image-to-image, GAN or cGAN pipeline; {args.model} is a {type(pipe).__name__}."
        )
    size = pipe.generator.config.sample_size
    scale = size // image.width if image.width and size % image.width == 0 else 1
    options = {"class_labels": parse_labels(args.labels, pipe)} if hasattr(pipe, "get_label_ids") else {}
    return pipe.restore(image, mask, num_steps=args.steps, scale=scale, generator=generator, **options).images[0]


def run(args) -> list[str]:
    """Generates and writes what `args` ask for; returns the paths written."""
    check_arguments(args)
    pipe = HfGanPipeline.from_pretrained(args.model).to(args.device)
    channels = getattr(getattr(pipe, "generator", None), "config", {}).get("out_channels")
    if args.transparent and channels != 4:
        raise ValueError(
            f"--transparent asks for an alpha channel, but {args.model} makes {channels}-channel images (no alpha): "
            "drop --transparent, or train a model on RGBA images with --num_channels 4. Nothing was written."
        )
    labels = parse_labels(args.labels, pipe)
    if args.image:
        path = args.output or "restored.png"
        output_folder(os.path.dirname(os.path.abspath(path)))
        files = {path: (upscale([restore_image(args, pipe)], args.scale, args.resample)[0], {})}
    elif args.interpolate:
        frames = interpolation_frames(pipe, *args.interpolate, args.frames, labels, args.truncation)
        path = args.output or "interpolation.gif"
        output_folder(os.path.dirname(os.path.abspath(path)))
        strip_path = os.path.splitext(path)[0] + ".png"
        files = {
            path: animation_options(upscale(frames, args.scale, args.resample), args.duration),
            strip_path: (interpolation_strip(frames, args.scale, args.resample), {}),
        }
    else:
        images, row_names = sample_images(pipe, labels, args.num_images, args.seed, args.truncation)
        single_file = args.grid or len(images) == 1
        path = args.output or ("generated.png" if single_file else "generated")
        is_png = path.lower().endswith(".png")
        if single_file and is_png:
            output_folder(os.path.dirname(os.path.abspath(path)))
            image = (
                labelled_grid(images, args.num_images, row_names, args.scale, args.resample)
                if args.grid
                else upscale(images, args.scale, args.resample)[0]
            )
            files = {path: (image, {})}
        elif is_png:
            raise ValueError(
                f"{len(images)} images do not fit one PNG ({path}): pass --grid for one labelled grid, "
                "or a folder as --output."
            )
        else:
            folder = output_folder(path)
            prefixes = [re.sub(r"[^\w.-]+", "_", row) + "_" for row in row_names] if row_names else [""]
            names = [f"{prefix}seed{args.seed + j}.png" for prefix in prefixes for j in range(args.num_images)]
            upscaled = upscale(images, args.scale, args.resample)
            files = {os.path.join(folder, name): (image, {}) for name, image in zip(names, upscaled)}
            if args.grid:
                files[os.path.join(folder, "grid.png")] = (
                    labelled_grid(images, args.num_images, row_names, args.scale, args.resample),
                    {},
                )
    save_images(files)
    for path in files:
        print(f"wrote {path}")
    return list(files)
