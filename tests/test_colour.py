"""The colour path end to end, on a synthetic 32x32 RGB image folder (coloured shapes, one class per shape): train the
cifar10_cgan preset for a few steps with `accelerate launch`, push to the test Hub, reload, generate, and evaluate with
FID/KID and with a classifier trained on the same images."""

import os
import subprocess
import sys

import numpy as np
import PIL.Image
import PIL.ImageDraw
import pytest
from conftest import accelerate_launch
from huggingface_hub import ModelCard

from hf_gan import ConditionalGANPipeline
from hf_gan.metrics import evaluate_pipeline
from hf_gan.training.utils import read_preset


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CIFAR_PRESET = os.path.join(ROOT, "hf_gan", "training", "configs", "cifar10_cgan.yaml")
SHAPES = ("circle", "square", "triangle")


def coloured_shape(shape: str, rng: np.random.Generator, size: int = 32) -> PIL.Image.Image:
    """A shape of a random colour, size and place on a dark, noisy background."""
    background = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    image = PIL.Image.fromarray(background)
    r = int(rng.integers(size // 5, size // 3))
    x, y = rng.integers(r, size - r, 2)
    colour = tuple(int(c) for c in rng.integers(120, 256, 3))
    draw = PIL.ImageDraw.Draw(image)
    if shape == "circle":
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    elif shape == "square":
        draw.rectangle([x - r, y - r, x + r, y + r], fill=colour)
    else:
        draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=colour)
    return image


def write_shapes(folder, per_class: dict, seed: int = 0, size: int = 32) -> str:
    """An imagefolder with `split/shape/i.png`, per_class[split] images of each shape."""
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for shape in SHAPES:
            os.makedirs(os.path.join(folder, split, shape), exist_ok=True)
            for i in range(count):
                coloured_shape(shape, rng, size).save(os.path.join(folder, split, shape, f"{i}.png"))
    return str(folder)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return write_shapes(tmp_path_factory.mktemp("shapes"), {"train": 22, "test": 8})


def train_gan(*flags, cwd):
    """Runs GAN training as a user would, through `accelerate launch` (the one place that names the script)."""
    command = [
        *accelerate_launch(),
        "-m",
        "hf_gan.training.train_gan",
        *flags,
    ]
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-3000:]


def train_classifier(*flags):
    command = [sys.executable, os.path.join(ROOT, "training", "train_classifier.py"), *flags]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_colour_cgan_trains_pushes_reloads_generates_and_evaluates(shapes, tmp_path):
    out = str(tmp_path / "colour-cgan")
    train_gan(
        "--config",
        CIFAR_PRESET,
        "--dataset_name",
        shapes,
        "--output_dir",
        out,
        "--max_train_steps",
        "20",
        "--train_batch_size",
        "16",
        "--generator_channels",
        "8",
        "--discriminator_channels",
        "8",
        "--latent_dim",
        "16",
        "--checkpointing_steps",
        "1000",
        "--sample_every",
        "0",
        "--push_to_hub",
        "--hub_model_id",
        "user/colour-cgan",
        cwd=str(tmp_path),
    )
    pipe = ConditionalGANPipeline.from_pretrained("user/colour-cgan")  # from the test Hub server
    assert pipe.generator.config.out_channels == 3 and pipe.generator.config.sample_size == 32
    assert [pipe.id2label[i] for i in range(3)] == list(SHAPES)
    images = pipe(class_labels=["triangle", "circle"], output_type="np").images
    assert images.shape == (2, 32, 32, 3) and images.std() > 0.01

    classifier = str(tmp_path / "shapes-classifier")
    printed = train_classifier(
        "--dataset_name", shapes, "--output_dir", classifier, "--epochs", "3", "--batch_size", "16", "--width", "8"
    )
    assert "test accuracy" in printed and os.path.isfile(os.path.join(classifier, "config.json"))
    assert "points from the labels at most" in printed and "of 3 classes predicted; recall per class" in printed

    metrics = evaluate_pipeline(
        out,
        shapes,
        classifier=classifier,
        num_samples=8,
        batch_size=8,
        metrics=["fid", "kid", "classifier"],
        update_card=True,
    )
    assert metrics["fid"] > 0 and np.isfinite(metrics["kid"]) and metrics["fld_floor"] > 0
    assert 0 <= metrics["class_accuracy"] <= 1 and 0 <= metrics["classifier_accuracy_on_real"] <= 1
    assert len(metrics["class_histogram"]) == 3
    card = ModelCard.load(os.path.join(out, "README.md"))
    result = card.data.eval_results[0]
    assert result.dataset_type == os.path.basename(shapes) and result.dataset_name == os.path.basename(shapes)
    assert {r.metric_type for r in card.data.eval_results} >= {"fid", "kid", "fld", "class_accuracy"}
    assert "MNIST" not in card.content and "mnist" not in str(card.data.to_dict()).lower()


def test_cifar10_preset_is_the_mnist_cgan_recipe_but_for_the_data():
    data_keys = {"dataset_name", "output_dir"}
    cifar, mnist = read_preset("cifar10_cgan"), read_preset("mnist_cgan")
    assert {k: v for k, v in cifar.items() if k not in data_keys} == {
        k: v for k, v in mnist.items() if k not in data_keys
    }
