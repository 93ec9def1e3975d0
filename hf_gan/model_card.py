"""Model cards for hf_gan pipelines, filled from the template hf_gan/templates/model_card.md (package data) through
huggingface_hub.ModelCard.

The evaluation section sits between two HTML comments, so `hf-gan evaluate --update_card` can rewrite the measured
metrics (and the card's `model-index` metadata) without touching the rest of a card someone may have edited.
"""

import importlib.resources
import os
import re

from huggingface_hub import EvalResult, ModelCard, ModelCardData


TEMPLATE = importlib.resources.files("hf_gan") / "templates" / "model_card.md"
METRICS_RE = re.compile(r"(<!-- hf_gan:metrics:start -->\n).*?(\n<!-- hf_gan:metrics:end -->)", re.DOTALL)
USAGE_RE = re.compile(r"(<!-- hf_gan:usage:start -->\n).*?(\n<!-- hf_gan:usage:end -->)", re.DOTALL)
NOT_EVALUATED = "Not evaluated yet: run `hf-gan evaluate <this folder> --dataset <data> --update_card`."

KINDS = {
    "cgan": {
        "pipeline": "ConditionalGANPipeline",
        "tags": ["gan", "conditional-gan", "class-conditional", "hf_gan"],
        "title": "Conditional GAN",
        "description": "A class-conditional GAN (Mirza & Osindero 2014): the generator takes noise z and a "
        "class label and returns an image of that class. Generator and discriminator are {networks}; the "
        "discriminator is kept in the repository so training can resume or fine-tune from it.",
        "grid": " (one row per class)",
    },
    "gan": {
        "pipeline": "GANPipeline",
        "tags": ["gan", "unconditional-image-generation", "hf_gan"],
        "title": "GAN",
        "description": "An unconditional GAN (Goodfellow et al. 2014); generator and discriminator are {networks}; "
        "the discriminator is kept in the repository so training can resume or fine-tune from it.",
        "grid": "",
    },
    "infogan": {
        "pipeline": "GANPipeline",
        "tags": ["gan", "infogan", "unconditional-image-generation", "hf_gan"],
        "title": "GAN with a categorical code (InfoGAN)",
        "description": "An unconditional GAN (Goodfellow et al. 2014) whose generator also takes a categorical code, "
        "trained without labels to keep the code readable from its images (InfoGAN, Chen et al. 2016, "
        "arXiv:1606.03657), so that it learns discrete modes. The pipeline draws the code with the rest of the "
        "latents (the argmax of their last entries). Generator and discriminator are {networks}; the "
        "discriminator, with the head that reads the code, is kept in the repository so training can resume or "
        "fine-tune from it.",
        "grid": " (one row per code value, for the first 10)",
    },
    "pix2pix": {
        "pipeline": "ImageToImageGANPipeline",
        "pipeline_tag": "image-to-image",
        "tags": ["gan", "pix2pix", "image-to-image", "hf_gan"],
        "title": "Image-to-image GAN (pix2pix)",
        "description": "An image-conditional GAN (pix2pix, Isola et al. 2017, arXiv:1611.07004): a U-Net generator "
        "maps a corrupted image (shrunk, masked or noisy) to a restored one, trained against a PatchGAN "
        "discriminator that sees the (input, output) pair, with the cGAN loss plus 100 x L1. The discriminator is "
        "kept in the repository so training can resume or fine-tune from it.",
        "grid": ": rows of inputs (masked pixels grey), outputs and originals",
    },
    "autoencoder": {
        "pipeline": "AutoencoderPipeline",
        "tags": ["autoencoder", "unconditional-image-generation", "hf_gan"],
        "title": "Autoencoder (decoder as generator)",
        "description": "A convolutional autoencoder whose decoder serves as a generator: new images decode samples of "
        "a Gaussian fitted to the codes of the training images. It is the simple baseline the GANs must beat.",
        "grid": "",
    },
}

# The networks of each --architecture, as a card describes them.
NETWORKS = {
    "dcgan": "DCGAN-style convolutional networks",
    "resnet": "residual networks in the style of SNGAN and BigGAN (class-conditional BatchNorm in the generator "
    "when it takes labels, a spectrally normalised projection discriminator)",
}
LIMITATIONS = (
    "Trained on one small dataset at low resolution: it generates only images like those it was trained on, and "
    "inherits that dataset's biases. GANs can drop modes (some kinds of images are never generated) and produce "
    "artefacts; check the evaluation figures above, which are computed with hf_gan's own classifier-based metrics, "
    "before relying on it. Not suitable for any decision about people."
)


# How each pipeline is asked for images, in the card's snippet.
CALLS = {
    "GANPipeline": "pipe(batch_size=4, generator=torch.manual_seed(0)).images",
    "ConditionalGANPipeline": "pipe(class_labels=[0, 0, 1], generator=torch.manual_seed(0)).images  # ids or names "
    "(pipe.id2label)",
    "AutoencoderPipeline": "pipe(batch_size=4, generator=torch.manual_seed(0)).images",
    "ImageToImageGANPipeline": "pipe(image, mask_image=None, generator=torch.manual_seed(0)).images  # image: PIL "
    "or array of the model's input size; mask_image white where to repaint (inpainting models)",
}


def usage_markdown(pipeline: str, repo_id: str) -> str:
    """The card's usage section: loading with plain diffusers (the repository's code), or with hf_gan (no code)."""
    return (
        "With diffusers alone: `trust_remote_code=True` runs this repository's `hf_gan_code.py` (hf_gan's networks "
        "and pipelines), so read it first.\n\n"
        f"```python\nimport torch\nfrom diffusers import DiffusionPipeline\n\n"
        f'pipe = DiffusionPipeline.from_pretrained("{repo_id}", trust_remote_code=True)\n'
        f'images = {CALLS[pipeline]}\nimages[0].save("sample.png")\n```\n\n'
        "With hf_gan installed (`pip install -e .` in a checkout of hf_gan), no code from the repository runs: hf_gan "
        "reads only its JSON and safetensors files.\n\n"
        f'```python\nfrom hf_gan import {pipeline}\n\npipe = {pipeline}.from_pretrained("{repo_id}")\n```'
    )


def set_card_usage(card_path: str, pipeline: str, repo_id: str) -> None:
    """Points the usage section of the card at `card_path` to `repo_id` (e.g. when publishing a local folder)."""
    card = ModelCard.load(card_path)
    if not USAGE_RE.search(card.text):
        raise ValueError(f"{card_path} has no hf_gan usage section (<!-- hf_gan:usage:start --> ... end -->).")
    card.text = USAGE_RE.sub(lambda m: m.group(1) + usage_markdown(pipeline, repo_id) + m.group(2), card.text)
    card.save(card_path)


def metrics_markdown(metrics: dict, protocol: str) -> str:
    rows = "\n".join(
        f"| {name} | {value:.4g} |" if isinstance(value, float) else f"| {name} | {value} |"
        for name, value in metrics.items()
    )
    return f"{protocol}\n\n| metric | value |\n| --- | --- |\n{rows}"


def eval_results(
    metrics: dict,
    dataset_id: str,
    dataset_name: str,
    dataset_split: str,
    task_type: str = "unconditional-image-generation",
) -> list[EvalResult]:
    return [
        EvalResult(
            task_type=task_type,
            dataset_type=dataset_id,
            dataset_name=dataset_name,
            dataset_split=dataset_split,
            metric_type=name,
            metric_name=name,
            metric_value=float(f"{value:.5g}"),
        )
        for name, value in metrics.items()
        if isinstance(value, (int, float))
    ]


def write_model_card(
    output_dir,
    kind,
    repo_id,
    dataset,
    hyperparameters,
    final_stats,
    dataset_id=None,
    hardware=None,
    license="apache-2.0",
    training_command=None,
) -> ModelCard:
    """Writes README.md into `output_dir`: metadata, sample grid, usage, training setup, limitations, citations."""
    info = KINDS[kind]
    dataset_id = dataset_id or (
        dataset if dataset and dataset.count("/") == 1 and not os.path.exists(dataset) else None
    )
    card_data = ModelCardData(
        license=license,
        library_name="diffusers",
        pipeline_tag=info.get("pipeline_tag", "unconditional-image-generation"),
        tags=info["tags"],
        datasets=[dataset_id] if dataset_id else None,
        model_name=os.path.basename(str(repo_id).rstrip("/")),
    )
    minutes = final_stats.get("train_minutes")
    summary = ", ".join(f"{k} = {v:.3f}" for k, v in final_stats.items() if k != "train_minutes")
    on = f" on {hardware}" if hardware else ""
    training_summary = (
        f"Training cost: {minutes:.1f} minutes of training steps{on}. " if minutes is not None else ""
    ) + (f"Last logged values: {summary}." if summary else "")
    card = ModelCard.from_template(
        card_data,
        template_str=TEMPLATE.read_text(encoding="utf-8"),
        title=f"{info['title']}: {os.path.basename(str(repo_id).rstrip('/'))}",
        description=info["description"].format(networks=NETWORKS[hyperparameters.get("architecture", "dcgan")])
        + (
            f" D saw every image, real and generated, through DiffAugment ({hyperparameters['diffaugment']})."
            if hyperparameters.get("diffaugment")
            else ""
        ),
        grid_caption=info["grid"],
        usage=usage_markdown(info["pipeline"], repo_id),
        training_command=training_command or f"training/train_{'autoencoder' if kind == 'autoencoder' else 'gan'}.py",
        hyperparameters=hyperparameters,
        training_summary=training_summary,
        metrics_section=NOT_EVALUATED,
        limitations=LIMITATIONS,
    )
    card.save(os.path.join(output_dir, "README.md"))
    return card


def update_card_metrics(
    card_path: str,
    metrics: dict,
    protocol: str,
    dataset_id: str,
    dataset_name: str,
    dataset_split: str = "test",
    task_type: str = "unconditional-image-generation",
) -> ModelCard:
    """Writes measured metrics into a card's evaluation section and its model-index metadata, which names the
    dataset (and split) that was evaluated."""
    card = ModelCard.load(card_path)
    if not METRICS_RE.search(card.text):
        raise ValueError(f"{card_path} has no hf_gan metrics section (<!-- hf_gan:metrics:start --> ... end -->).")
    card.text = METRICS_RE.sub(lambda m: m.group(1) + metrics_markdown(metrics, protocol) + m.group(2), card.text)
    card.data.eval_results = eval_results(metrics, dataset_id, dataset_name, dataset_split, task_type)
    if dataset_id.count("/") == 1 and dataset_id not in (card.data.datasets or []):  # a Hub id: the Hub links it
        card.data.datasets = [*(card.data.datasets or []), dataset_id]
    card.data.model_name = card.data.model_name or os.path.basename(os.path.dirname(os.path.abspath(card_path)))
    card.save(card_path)
    return card
