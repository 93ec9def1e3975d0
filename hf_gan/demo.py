"""A web demo of an hf_gan pipeline, with Gradio (the optional extra `hf_gan[demo]`).

`hf-gan demo MODEL` serves it; the same app is what a Hugging Face Space runs: `hf-gan demo MODEL --export DIR` writes
the Space (app.py, a pinned requirements.txt, README.md with the Space metadata, a copy of hf_gan, which is not on
PyPI, and, for a local model folder, the model), and `--push_space org/name` creates the Space and uploads it.

Images and seeds are those of `hf-gan generate` (see hf_gan.visuals): image j of a request uses seed + j, so an image
of the demo is `pipe(..., generator=torch.Generator().manual_seed(seed + j), truncation=...)`, upscaled.
"""

import importlib.metadata
import os
import re
import shutil
import tempfile

import PIL.Image
import torch
from huggingface_hub import HfApi, SpaceCard, SpaceCardData

from .pipelines import ConditionalGANPipeline, HfGanPipeline, ImageToImageGANPipeline
from .visuals import animation_options, interpolation_frames, interpolation_strip, sample_images, save_images, upscale


MAX_IMAGES = 16
MAX_FRAMES = 32
# The masks the Restore tab offers (white = to repaint), as functions of the image size.
MASKS = {
    "none": None,
    "bottom half": lambda s: (slice(s // 2, s), slice(0, s)),
    "top half": lambda s: (slice(0, s // 2), slice(0, s)),
    "left half": lambda s: (slice(0, s), slice(0, s // 2)),
    "right half": lambda s: (slice(0, s), slice(s // 2, s)),
}
APP_TEMPLATE = '''"""Hugging Face Space: a demo of {model_name}, written by `hf-gan demo --export`."""

import os

from hf_gan.demo import build_demo

demo = build_demo({model_expression}, title={title!r}, scale={scale})

if __name__ == "__main__":
    demo.launch()
'''


def import_gradio():
    try:
        import gradio
    except ImportError as error:
        raise ImportError('The demo needs Gradio: pip install "hf_gan[demo]" (or pip install gradio).') from error
    return gradio


def build_demo(model, title: str | None = None, scale: int = 4, device: str = "cpu"):
    """A `gradio.Blocks` app for `model` (a pipeline, a folder or a Hub repo id): a Generate tab (class, seed, number
    of images, truncation -> a gallery of upscaled images) and an Interpolate tab (two seeds, frames -> a strip and
    an animation). Its API names are "generate" and "interpolate"."""
    gr = import_gradio()
    pipe = model if isinstance(model, HfGanPipeline) else HfGanPipeline.from_pretrained(model).to(device)
    if isinstance(pipe, ImageToImageGANPipeline):
        return restore_demo(gr, pipe, title or f"hf_gan: {type(pipe).__name__}", scale)
    conditional = isinstance(pipe, ConditionalGANPipeline)
    class_names = list(pipe.id2label.values()) if conditional else []
    title = title or f"hf_gan: {type(pipe).__name__}"

    def generate(seed, num_images, truncation, class_name=None):
        images, _ = sample_images(
            pipe, None if class_name is None else [class_name], int(num_images), int(seed), float(truncation)
        )
        prefix = f"{class_name} · " if conditional else ""
        return [(image, f"{prefix}seed {int(seed) + j}") for j, image in enumerate(upscale(images, scale))]

    def interpolate(seed_a, seed_b, num_frames, truncation, start_class=None, end_class=None):
        labels = [start_class, end_class] if conditional else None
        frames = interpolation_frames(pipe, int(seed_a), int(seed_b), int(num_frames), labels, float(truncation))
        animation = os.path.join(tempfile.mkdtemp(prefix="hf_gan_demo_"), "interpolation.gif")
        image, options = animation_options(upscale(frames, scale), duration_ms=100)
        save_images({animation: (image, options)})
        return interpolation_strip(frames, scale), animation

    with gr.Blocks(title=title) as demo:
        gr.Markdown(
            f"# {title}\nImage j of a request is drawn with seed + j: the same seed, class and truncation "
            "always give the same image."
        )
        with gr.Tab("Generate"):
            with gr.Row():
                class_input = (
                    [gr.Dropdown(class_names, value=class_names[0], label="class", elem_id="class")]
                    if conditional
                    else []
                )
                seed = gr.Number(0, precision=0, label="seed", elem_id="seed")
                num_images = gr.Slider(1, MAX_IMAGES, value=8, step=1, label="images", elem_id="num_images")
                truncation = gr.Slider(0, 1, value=1, step=0.05, label="truncation (1: none)", elem_id="truncation")
            button = gr.Button("Generate", variant="primary", elem_id="generate")
            gallery = gr.Gallery(label="samples", columns=8, format="png", elem_id="gallery")
            button.click(generate, [seed, num_images, truncation, *class_input], gallery, api_name="generate")
        with gr.Tab("Interpolate"):
            with gr.Row():
                class_inputs = (
                    [gr.Dropdown(class_names, value=class_names[0], label=f"{end} class") for end in ("start", "end")]
                    if conditional
                    else []
                )
                seed_a = gr.Number(0, precision=0, label="start seed")
                seed_b = gr.Number(1, precision=0, label="end seed")
                num_frames = gr.Slider(2, MAX_FRAMES, value=10, step=1, label="frames")
                path_truncation = gr.Slider(0, 1, value=1, step=0.05, label="truncation (1: none)")
            path_button = gr.Button("Interpolate", variant="primary")
            strip = gr.Image(label="frames", format="png", type="pil")
            animation = gr.Image(label="animation", type="filepath")
            path_button.click(
                interpolate,
                [seed_a, seed_b, num_frames, path_truncation, *class_inputs],
                [strip, animation],
                api_name="interpolate",
            )
    return demo


def space_requirements(gradio_version: str) -> str:
    """requirements.txt of an exported Space: hf_gan's own requirements and Gradio, each pinned to the version that
    ran the export, so the Space runs what was tried here; torch from PyTorch's CPU wheels (a Space's default
    hardware is a CPU, and PyPI's Linux torch pulls several GB of CUDA libraries)."""
    requirements = [r for r in importlib.metadata.requires("hf_gan") or [] if "extra ==" not in r]
    names = [re.match(r"[A-Za-z0-9._-]+", requirement).group(0) for requirement in requirements]
    pins = {name: importlib.metadata.version(name).split("+")[0] for name in names}  # 2.13.0+cpu: 2.13.0
    pins["gradio"] = gradio_version  # Spaces install it at sdk_version too: the same version
    lines = [
        "# Written by `hf-gan demo --export`: the versions the export ran with; torch as a CPU wheel.",
        "--extra-index-url https://download.pytorch.org/whl/cpu",
        *(f"{name}=={version}" for name, version in sorted(pins.items(), key=lambda item: item[0].lower())),
    ]
    return "\n".join(lines) + "\n"


def editor_image(value) -> PIL.Image.Image | None:
    """The picture of a gr.ImageEditor value: what was drawn over what was uploaded (or a plain image)."""
    if isinstance(value, dict):
        value = value.get("composite") or value.get("background")
    return value


def restore_demo(gr, pipe: ImageToImageGANPipeline, title: str, scale: int):
    """An image-to-image model's demo: a Restore tab, where a person uploads a digit (or draws one, white on
    black), picks the part that is missing if the model repaints masks, and sees the input as the model takes it
    (shrunk to its input size) beside the restored image. Its API name is "restore"."""
    config = pipe.generator.config
    size, sample_size = config.condition_size, config.sample_size

    def restore(drawn, mask_name="none", seed=0):
        image = editor_image(drawn)
        if image is None:
            raise gr.Error("Upload or draw an image first.")
        mode = "L" if config.in_channels == 1 else "RGB"
        image = image.convert(mode).resize((size, size), PIL.Image.Resampling.BOX)
        mask = None
        if MASKS.get(mask_name) is not None:
            mask = PIL.Image.new("L", (sample_size, sample_size))
            rows, cols = MASKS[mask_name](sample_size)
            mask.paste(255, (cols.start, rows.start, cols.stop, rows.stop))
        restored = pipe(image, mask, generator=torch.Generator().manual_seed(int(seed))).images[0]
        shown = image.resize((sample_size, sample_size), PIL.Image.Resampling.NEAREST)
        if mask is not None:  # the pixels the model does not see, grey
            shown.paste(PIL.Image.new(mode, shown.size, 128 if mode == "L" else (128,) * 3), mask=mask)
        return upscale([shown], scale)[0], upscale([restored], scale)[0]

    with gr.Blocks(title=title) as demo:
        gr.Markdown(
            f"# {title}\nUpload a picture or draw one (white on black); it is shrunk to the model's {size}x{size} "
            "input and restored."
        )
        with gr.Tab("Restore"):
            with gr.Row():
                drawn = gr.ImageEditor(
                    type="pil",
                    image_mode="L" if config.in_channels == 1 else "RGB",
                    sources=["upload", "clipboard"],
                    value={"background": PIL.Image.new("L", (280, 280)), "layers": [], "composite": None},
                    brush=gr.Brush(colors=["#FFFFFF"], default_color="#FFFFFF", default_size=20),
                    label="image",
                    elem_id="image",
                )
                with gr.Column():
                    mask_input = (
                        [gr.Radio(list(MASKS), value="bottom half", label="missing part", elem_id="mask")]
                        if config.mask_channel
                        else []
                    )
                    seed = gr.Number(0, precision=0, label="seed", elem_id="seed")
                    button = gr.Button("Restore", variant="primary", elem_id="restore")
            with gr.Row():
                shown = gr.Image(label="the model's input", format="png", type="pil")
                restored = gr.Image(label="restored", format="png", type="pil")
            inputs = [drawn, *mask_input, seed] if mask_input else [drawn, gr.State("none"), seed]
            button.click(restore, inputs, [shown, restored], api_name="restore")
    return demo


def export_space(model: str, folder: str, title: str | None = None, scale: int = 4) -> str:
    """Writes a Hugging Face Space that runs the demo of `model` (a folder, copied into the Space, or a Hub repo id)
    into `folder`, which must be empty or new; returns the folder."""
    gradio = import_gradio()
    if os.path.exists(folder) and (not os.path.isdir(folder) or os.listdir(folder)):
        raise FileExistsError(f"{folder} exists and is not an empty folder: pass a new or empty folder to --export.")
    local = os.path.isdir(model)
    model_name = os.path.basename(os.path.normpath(model)) if local else model
    HfGanPipeline.from_pretrained(model)  # fail here, not in the Space, if it does not load
    title = title or f"{model_name} (hf_gan)"
    os.makedirs(folder, exist_ok=True)
    package = os.path.dirname(os.path.abspath(__file__))
    shutil.copytree(package, os.path.join(folder, "hf_gan"), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if local:
        shutil.copytree(
            model, os.path.join(folder, "model"), ignore=shutil.ignore_patterns("checkpoint-*", "logs", "samples")
        )
        model_expression = 'os.path.join(os.path.dirname(os.path.abspath(__file__)), "model")'
    else:
        model_expression = repr(model)
    with open(os.path.join(folder, "app.py"), "w", encoding="utf-8") as file:
        file.write(
            APP_TEMPLATE.format(model_name=model_name, model_expression=model_expression, title=title, scale=scale)
        )
    with open(os.path.join(folder, "requirements.txt"), "w", encoding="utf-8") as file:
        file.write(space_requirements(gradio.__version__))
    card_data = SpaceCardData(
        title=title,
        sdk="gradio",
        sdk_version=gradio.__version__,
        app_file="app.py",
        models=None if local else [model],
        tags=["hf_gan", "gan"],
        emoji="🎨",
        colorFrom="gray",
        colorTo="blue",
        pinned=False,
    )
    card = SpaceCard(
        f"---\n{card_data.to_yaml()}\n---\n\n# {title}\n\nA demo of "
        f"{'the hf_gan pipeline in `model/`' if local else f'[{model}](https://huggingface.co/{model})'}: "
        "pick a class, a seed, how many images and the truncation; or interpolate between two seeds. "
        "Written by `hf-gan demo --export`.\n"
    )
    card.save(os.path.join(folder, "README.md"))
    return folder


def push_space(folder: str, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Creates the Gradio Space `repo_id` if needed and uploads `folder` (from `export_space`); returns its id."""
    api = HfApi(token=token)
    repo_id = api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True).repo_id
    api.upload_folder(
        repo_id=repo_id, repo_type="space", folder_path=folder, commit_message="Space written by hf-gan demo --export"
    )
    return repo_id


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a pipeline folder or Hub repo id")
    parser.add_argument("--scale", type=int, default=4, help="upscaling of the shown images (nearest-neighbour)")
    parser.add_argument("--title", help="page title (default: from the model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    parser.add_argument("--port", type=int, help="default: Gradio's (7860, or the next free one)")
    parser.add_argument("--share", action="store_true", help="also serve through a temporary public gradio.live link")
    parser.add_argument(
        "--export",
        metavar="DIR",
        help="write a Hugging Face Space (app.py, requirements.txt, README.md) instead of serving",
    )
    parser.add_argument("--push_space", metavar="ORG/NAME", help="create the Space ORG/NAME and upload the export")
    parser.add_argument("--token", help="for --push_space (default: the logged-in token or HF_TOKEN)")
    parser.add_argument("--private", action="store_true", help="make the pushed Space private")


def run(args) -> None:
    if args.export or args.push_space:
        with tempfile.TemporaryDirectory() as staging:
            folder = export_space(args.model, args.export or os.path.join(staging, "space"), args.title, args.scale)
            print(f"wrote the Space to {folder}" if args.export else "exported the Space")
            if args.push_space:
                repo_id = push_space(folder, args.push_space, args.token, args.private)
                print(f"pushed the Space to {repo_id}")
        return
    build_demo(args.model, args.title, args.scale, args.device).launch(
        server_name=args.host, server_port=args.port, share=args.share
    )
