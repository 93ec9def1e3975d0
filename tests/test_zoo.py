"""The model zoo (model_zoo/*): every folder loads and generates, its card is valid, and `hf-gan publish` puts the
folders on a Hub organisation (the README's snippets that load the zoo: tests/test_readme.py)."""

import importlib
import json
import os

import pytest
import torch
from huggingface_hub import ModelCard, hf_hub_download

from hf_gan import HfGanPipeline
from hf_gan.cli import main as cli_main
from hf_gan.pipelines.pipeline_utils import repository_code
from hf_gan.training.utils import parse_args_with_config


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = {
    "mnist-cgan": "ConditionalGANPipeline",
    "mnist-gan": "GANPipeline",
    "mnist-autoencoder": "AutoencoderPipeline",
    "mnist-superres": "ImageToImageGANPipeline",
    "mnist-restore": "ImageToImageGANPipeline",
    "mnist-inpaint": "ImageToImageGANPipeline",
    "mnist-denoise": "ImageToImageGANPipeline",
}
# The training script and preset of each zoo model (training/build_zoo.sh).
RECIPES = {
    "mnist-cgan": ("train_gan", "mnist_cgan_long"),
    "mnist-gan": ("train_gan", "mnist_gan"),
    "mnist-autoencoder": ("train_autoencoder", "mnist_autoencoder"),
    "mnist-superres": ("train_gan", "mnist_superres"),
    "mnist-restore": ("train_gan", "mnist_restore"),
    "mnist-inpaint": ("train_gan", "mnist_inpaint"),
    "mnist-denoise": ("train_gan", "mnist_denoise"),
}
# What each zoo pipeline is asked for: images of 10 classes, 4 samples, or 4 restorations of (shrunk, masked) digits.
CALLS = {
    "mnist-cgan": lambda: {"class_labels": list(range(10))},
    "mnist-superres": lambda: {"image": torch.rand(4, 1, 7, 7)},
    "mnist-restore": lambda: {"image": torch.rand(4, 1, 28, 28), "mask_image": torch.ones(1, 28, 28)},
    "mnist-inpaint": lambda: {"image": torch.rand(4, 1, 28, 28), "mask_image": torch.ones(1, 28, 28)},
    "mnist-denoise": lambda: {"image": torch.rand(4, 1, 28, 28)},
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_folder_loads_generates_and_has_a_filled_card(name):
    folder = os.path.join(ROOT, "model_zoo", name)
    pipe = HfGanPipeline.from_pretrained(folder)
    assert type(pipe).__name__ == ZOO[name]
    args = CALLS.get(name, lambda: {"batch_size": 4})()
    images = pipe(**args, generator=torch.manual_seed(0), output_type="pt").images
    assert images.shape[1:] == (1, 28, 28) and images.std() > 0.1
    card = ModelCard.load(os.path.join(folder, "README.md"))
    assert card.data.eval_results, "the card has no measured metrics: run hf-gan evaluate --update-card"
    assert os.path.isfile(os.path.join(folder, "samples.png"))
    assert not [f for f in os.listdir(folder) if f.startswith("checkpoint-")]


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_code_files_are_todays_code(name):
    """Plain diffusers runs these files (trust_remote_code=True): they must be what save_pretrained writes today."""
    folder = os.path.join(ROOT, "model_zoo", name)
    code_files = [os.path.join(root, f) for root, _, files in os.walk(folder) for f in files if f.endswith(".py")]
    assert len(code_files) >= 2  # the pipeline's and each component's
    for path in code_files:
        with open(path, encoding="utf-8") as file:
            assert file.read() == repository_code(), f"{path} is stale: re-save the zoo folder with save_pretrained"


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_model_was_trained_with_its_preset(name):
    """So that `--config PRESET` reproduces the zoo's model: every setting it implies, the script's defaults included,
    is what the model ran with."""
    with open(os.path.join(ROOT, "model_zoo", name, "training_args.json"), encoding="utf-8") as file:
        ran_with = json.load(file)
    script, preset = RECIPES[name]
    parser = importlib.import_module(f"hf_gan.training.{script}").parse_args()
    implied = vars(parse_args_with_config(parser, ["--config", preset]))
    # where the data and the run lived, how often it logged, saved and drew samples, and how fast it ran
    bookkeeping = {"dataset_name", "hub_dataset_id", "output_dir", "checkpointing_steps", "checkpoints_total_limit"}
    bookkeeping |= {"sample_every", "save_every", "logging_steps", "num_threads", "cuda_graph"}
    bookkeeping |= {"resume_from_checkpoint", "overwrite_output_dir"}  # how a run treated its folder (resumed or not)
    differ = {k: (implied.get(k), v) for k, v in ran_with.items() if k not in bookkeeping and implied.get(k) != v}
    assert not differ, f"(--config {preset}, what {name} ran with) differ: {differ}"


def test_publish_zoo_to_an_organisation(tmp_path):
    folders = [os.path.join(ROOT, "model_zoo", name) for name in sorted(ZOO)]
    assert cli_main(["publish", *folders, "--org", "zoo-org"]) == 0
    for name, pipeline_name in ZOO.items():
        pipe = HfGanPipeline.from_pretrained(f"zoo-org/{name}")
        assert type(pipe).__name__ == pipeline_name
        card = open(hf_hub_download(f"zoo-org/{name}", "README.md"), encoding="utf-8").read()
        assert f'from_pretrained("zoo-org/{name}")' in card
