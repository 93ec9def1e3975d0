"""Pictures for people: samples drawn reproducibly from a pipeline, upscaled, in grids labelled with class names,
interpolation strips and animations. Used by `hf-gan generate`, the demo and the model cards.

Seeds: image j of each row is drawn with `torch.Generator().manual_seed(seed + j)`, for every row, so a column shares
its latents across classes, and `pipe(..., generator=torch.Generator().manual_seed(seed + j))` gives that image
alone.
"""

import math
import os
import tempfile

import numpy as np
import PIL.Image
import torch
from diffusers.utils import make_image_grid
from PIL import ImageDraw, ImageFont

from .pipelines import ConditionalGANPipeline, GANPipeline


RESAMPLING = {
    "nearest": PIL.Image.Resampling.NEAREST,
    "bilinear": PIL.Image.Resampling.BILINEAR,
    "bicubic": PIL.Image.Resampling.BICUBIC,
    "lanczos": PIL.Image.Resampling.LANCZOS,
}
ANIMATION_FORMATS = (".gif", ".webp")


def code_size(pipe) -> int:
    """The size of an InfoGAN pipeline's categorical code (0 for any other pipeline)."""
    return pipe.generator.config.categorical_code if isinstance(pipe, GANPipeline) else 0


def code_latents(pipe, codes: list[int], latents: torch.Tensor) -> torch.Tensor:
    """`latents` (N, latent_dim) with an InfoGAN generator's categorical code set to `codes` (N,)."""
    size = code_size(pipe)
    bad = [
        code
        for code in codes
        if isinstance(code, bool) or not isinstance(code, (int, np.integer)) or not 0 <= code < size
    ]
    if bad:
        raise ValueError(
            f"Unknown code value {bad[0]!r}: this InfoGAN's categorical code takes the values 0..{size - 1}."
        )
    latents = latents.clone()
    latents[:, -size:] = torch.nn.functional.one_hot(torch.tensor(codes, dtype=torch.long), size).to(latents)
    return latents


def sample_images(
    pipe,
    class_labels=None,
    num_images: int = 8,
    seed: int = 0,
    truncation: float = 1.0,
) -> tuple[list[PIL.Image.Image], list[str] | None]:
    """`num_images` images per row and the rows' names (None: one unnamed set of images).

    Rows: for a conditional pipeline, the classes of `class_labels` (ids or names; every class by default); for an
    InfoGAN, the code values of `class_labels`, if given. Image j of each row uses seed + j (see the module doc)."""
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
        raise ValueError(f"num_images must be a positive integer, got {num_images!r}.")
    if isinstance(pipe, ConditionalGANPipeline):
        label_ids = pipe.get_label_ids(list(pipe.id2label) if class_labels is None else class_labels)
        rows, row_names = len(label_ids), [pipe.id2label[i] for i in label_ids]
    elif class_labels is None:
        rows, row_names = 1, None
    elif code_size(pipe):
        codes = list(class_labels) if isinstance(class_labels, (list, tuple)) else [class_labels]
        rows, row_names = len(codes), [f"code {code}" for code in codes]
    else:
        raise ValueError(
            f"class labels need a class-conditional pipeline (or an InfoGAN's code values); this "
            f"{type(pipe).__name__} has neither."
        )
    generators = [torch.Generator().manual_seed(seed + j) for _ in range(rows) for j in range(num_images)]
    if isinstance(pipe, ConditionalGANPipeline):
        images = pipe(
            class_labels=label_ids, num_images_per_label=num_images, generator=generators, truncation=truncation
        )
        return images.images, row_names
    latents = None
    if row_names is not None:  # InfoGAN rows: the drawn latents, with the row's code
        latents = pipe.prepare_latents(rows * num_images, pipe.generator, generators, None)
        latents = code_latents(pipe, [code for code in codes for _ in range(num_images)], latents)
    images = pipe(rows * num_images, generator=generators, latents=latents, truncation=truncation).images
    return images, row_names


def upscale(images: list[PIL.Image.Image], scale: int, resample: str = "nearest") -> list[PIL.Image.Image]:
    """Each image `scale` times larger; nearest-neighbour keeps the pixels sharp."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}.")
    if resample not in RESAMPLING:
        raise ValueError(f"resample={resample!r} is not one of {list(RESAMPLING)}.")
    return [image.resize((image.width * scale, image.height * scale), RESAMPLING[resample]) for image in images]


def labelled_grid(
    images: list[PIL.Image.Image],
    columns: int,
    row_labels: list[str] | None = None,
    scale: int = 4,
    resample: str = "nearest",
) -> PIL.Image.Image:
    """The images upscaled, in rows of `columns`, with `row_labels` (one per row) written in a column on the left."""
    images = upscale(images, scale, resample)
    rows = math.ceil(len(images) / columns)
    blank = PIL.Image.new(images[0].mode, images[0].size)
    grid = make_image_grid(images + [blank] * (rows * columns - len(images)), rows, columns)
    if not row_labels:
        return grid
    if len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for {rows} rows.")
    cell = images[0].height
    font = ImageFont.load_default(size=max(10, min(cell // 2, 24)))
    measure = ImageDraw.Draw(grid)
    margin = max(4, cell // 8)
    width = max(measure.textbbox((0, 0), label, font=font)[2] for label in row_labels) + 2 * margin
    labelled = PIL.Image.new(grid.mode, (width + grid.width, grid.height))
    labelled.paste(grid, (width, 0))
    draw, white = ImageDraw.Draw(labelled), (255,) * len(grid.getbands())
    for row, label in enumerate(row_labels):
        draw.text((width - margin, row * cell + cell // 2), label, fill=white, font=font, anchor="rm")
    return labelled


def pipeline_grid(pipe, seed: int = 0, columns: int = 8, scale: int = 4, truncation: float = 1.0) -> PIL.Image.Image:
    """A model card's sample grid: one labelled row per class (conditional), per code value for the first 10
    (InfoGAN), else 8 rows of samples; upscaled `scale` times."""
    if code_size(pipe):
        images, row_names = sample_images(pipe, list(range(min(code_size(pipe), 10))), columns, seed, truncation)
    elif isinstance(pipe, ConditionalGANPipeline):
        images, row_names = sample_images(pipe, None, columns, seed, truncation)
    else:
        images, row_names = sample_images(pipe, None, columns * 8, seed, truncation)
    return labelled_grid(images, columns, row_names, scale)


def interpolation_frames(
    pipe,
    start,
    end,
    num_frames: int = 8,
    class_labels=None,
    truncation: float = 1.0,
) -> list[PIL.Image.Image]:
    """The pipeline's `interpolate` frames, asking a conditional pipeline for `class_labels` (one or two classes;
    default: its first class)."""
    if isinstance(pipe, ConditionalGANPipeline):
        class_labels = 0 if class_labels is None else class_labels
        return pipe.interpolate(start, end, class_labels, num_frames=num_frames, truncation=truncation).images
    if class_labels is not None:
        raise ValueError(f"class labels need a class-conditional pipeline; this {type(pipe).__name__} has none.")
    return pipe.interpolate(start, end, num_frames=num_frames, truncation=truncation).images


def interpolation_strip(frames: list[PIL.Image.Image], scale: int = 4, resample: str = "nearest") -> PIL.Image.Image:
    """The frames side by side, upscaled."""
    return labelled_grid(frames, len(frames), None, scale, resample)


def save_images(files: dict[str, tuple[PIL.Image.Image, dict]]) -> None:
    """Saves {path: (image, PIL save options)} so that no half-written file is ever left: each image goes to a
    temporary file beside its path, and the files are renamed into place only once all of them are written."""
    written = []
    umask = os.umask(0)
    os.umask(umask)
    try:
        for path, (image, options) in files.items():
            folder = os.path.dirname(os.path.abspath(path))
            extension = os.path.splitext(path)[1].lower()
            image_format = PIL.Image.registered_extensions().get(extension)
            if image_format is None:
                raise ValueError(
                    f"Cannot write {path}: unknown image extension {extension!r} (use .png, .gif, .webp, ...)."
                )
            handle, temporary = tempfile.mkstemp(prefix=".hf_gan-", suffix=extension, dir=folder)
            written.append((temporary, path))
            with os.fdopen(handle, "wb") as file:
                image.save(file, format=image_format, **options)
            os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0o600 would hide the images from other users
        for temporary, path in written:
            os.replace(temporary, path)
    except OSError as error:
        raise OSError(f"Cannot write {path}: {error.strerror or error}. No partial file was left.") from error
    finally:
        for temporary, _ in written:
            if os.path.exists(temporary):
                os.remove(temporary)


def animation_options(frames: list[PIL.Image.Image], duration_ms: int) -> tuple[PIL.Image.Image, dict]:
    """The first frame and the PIL save options of a looping animation that plays the frames forth and back
    (WebP lossless: lossy WebP merges frames that differ little; GIF ignores the option)."""
    sequence = frames + frames[-2:0:-1]
    return sequence[0], {
        "save_all": True,
        "append_images": sequence[1:],
        "duration": duration_ms,
        "loop": 0,
        "lossless": True,
    }
