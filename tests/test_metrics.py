"""hf_gan.metrics on known cases, the shipped classifier, `hf-gan evaluate` and the model card."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import HUB_STATE
from huggingface_hub import ModelCard
from test_training import write_idx

from hf_gan import ConditionalGANPipeline, DCGANGenerator
from hf_gan.cli import main as cli_main
from hf_gan.metrics import class_histogram, frechet_distance, inception_fid, load_mnist_classifier, precision_recall
from hf_gan.metrics.evaluate import classify, generate
from hf_gan.model_card import write_model_card

MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


def gaussian_features(n=4000, dim=8, seed=0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_frechet_distance_known_cases():
    a = gaussian_features()
    assert abs(frechet_distance(a, a)) < 1e-8
    shift = torch.full((8,), 0.5, dtype=torch.float64)
    # same covariance: the distance is exactly the squared distance of the means
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift.pow(2).sum()), rel=1e-6)
    b = gaussian_features(seed=1)
    distances = [frechet_distance(a, b + s) for s in (0.0, 0.1, 0.5, 1.0)]
    assert distances == sorted(distances) and distances[0] < 0.05
    noisy = [frechet_distance(a, b * scale) for scale in (1.0, 1.5, 3.0)]
    assert noisy == sorted(noisy)
    # N(0, I) vs N(0, 4I) in 8-d: 8 * (1 + 4 - 2 * 2) = 8
    assert frechet_distance(a, b * 2) == pytest.approx(8.0, rel=0.1)


def test_precision_recall_known_cases():
    real = gaussian_features(1000, 4).float()
    assert precision_recall(real, real) == (1.0, 1.0)
    assert precision_recall(real, real + 100) == (0.0, 0.0)
    # a generator that covers only one half of the data: precise, but half the recall
    one_half = real[real[:, 0] > 0]
    precision, recall = precision_recall(real, one_half)
    assert precision > 0.95 and 0.3 < recall < 0.7


def test_class_histogram():
    histogram = class_histogram(torch.tensor([0, 0, 1, 3]), 4)
    assert histogram.tolist() == [0.5, 0.25, 0.0, 0.25]


@pytest.mark.skipif(not os.path.isdir(MNIST), reason="the MNIST files of ../shared/data/mnist are not beside the checkout")
def test_shipped_classifier_reaches_its_bar_on_real_test_digits():
    from hf_gan.data import load_image_dataset, prepare_image_dataset

    test = prepare_image_dataset(load_image_dataset(MNIST, "test"))
    _, predicted = classify(test.images.float() / 255, load_mnist_classifier())
    assert (predicted == test.labels).double().mean() >= 0.993
    weights = os.path.join(os.path.dirname(load_mnist_classifier.__code__.co_filename), "mnist_classifier")
    assert sum(os.path.getsize(os.path.join(weights, f)) for f in os.listdir(weights)) < 500_000


def test_inception_fid_from_a_local_torchscript_file(tmp_path):
    class TinyInception(torch.nn.Module):
        def forward(self, images: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            assert images.dtype == torch.uint8 and images.shape[1:] == (3, 299, 299)
            x = images.float() / 255
            return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)

    path = str(tmp_path / "inception.pt")
    torch.jit.script(TinyInception()).save(path)
    real = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert abs(inception_fid(real, real, path)) < 1e-8
    assert inception_fid(real * 0.5, real, path) > inception_fid(real * 0.9, real, path) > 0


@pytest.fixture
def mnist_like(tmp_path):
    """A folder of idx files with 28x28 images, and a tiny conditional pipeline for 28x28 digits."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "data"
    folder.mkdir()
    for prefix in ("train", "t10k"):
        write_idx(folder, prefix, rng.integers(0, 255, (80, 28, 28), dtype=np.uint8), np.arange(80) % 10, compress=True)
    torch.manual_seed(0)
    pipe = ConditionalGANPipeline(DCGANGenerator(latent_dim=8, base_channels=4, num_classes=10).eval())
    pipe.save_pretrained(tmp_path / "pipe")
    write_model_card(str(tmp_path / "pipe"), kind="cgan", repo_id=str(tmp_path / "pipe"), dataset="ylecun/mnist",
                     hyperparameters={"objective": "hinge", "max_train_steps": 10}, final_stats={"train_minutes": 0.5},
                     dataset_id="ylecun/mnist")
    return str(folder), str(tmp_path / "pipe")


def test_evaluate_cli_prints_writes_json_and_updates_the_card(mnist_like, capsys):
    data, pipe = mnist_like
    assert cli_main(["evaluate", pipe, "--dataset", data, "--num_samples", "80", "--batch_size", "40", "--update-card"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"fld\s+\d", out) and re.search(r"class_accuracy\s+0\.\d", out)
    metrics = json.load(open(os.path.join(pipe, "eval_results.json")))
    assert metrics["num_samples"] == 80 and metrics["fld_floor"] >= 0 and 0 <= metrics["class_accuracy"] <= 1
    assert len(metrics["class_histogram"]) == 10

    card = ModelCard.load(os.path.join(pipe, "README.md"))
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert results["fld"] == pytest.approx(metrics["fld"], rel=1e-4) and "class_accuracy" in results  # 5 significant digits
    assert "Not evaluated yet" not in card.text and "| fld |" in card.text
    # a second evaluation rewrites the section instead of appending another
    cli_main(["evaluate", pipe, "--dataset", data, "--num_samples", "40", "--update-card"])
    assert ModelCard.load(os.path.join(pipe, "README.md")).text.count("| fld |") == 1


def test_conditional_samples_for_every_class_or_for_given_labels(mnist_like):
    pipe = ConditionalGANPipeline.from_pretrained(mnist_like[1])
    _, balanced = generate(pipe, 12, batch_size=5)
    assert balanced.tolist() == [i % 10 for i in range(12)]
    # evaluate asks for the reference images' labels, cycled if there are fewer of them than samples
    images, labels = generate(pipe, 7, batch_size=3, class_labels=torch.tensor([4, 4, 1]))
    assert labels.tolist() == [4, 4, 1, 4, 4, 1, 4] and images.shape == (7, 1, 28, 28)


def test_card_metadata_is_valid_for_the_hub(mnist_like):
    _, pipe = mnist_like
    card = ModelCard.load(os.path.join(pipe, "README.md"))
    card.validate()  # huggingface_hub's validation, through the test Hub's /api/validate-yaml
    data = card.data.to_dict()
    assert data["library_name"] == "hf_gan" and data["pipeline_tag"] == "unconditional-image-generation"
    assert {"gan", "conditional-gan"} <= set(data["tags"]) and data["datasets"] == ["ylecun/mnist"]
    assert "Goodfellow" in card.text and "Mirza" in card.text and "Limitations" in card.text
    assert "POST /api/validate-yaml" in HUB_STATE.requests  # validated by the (test) Hub, not skipped


def test_card_usage_snippet_runs_as_written(mnist_like, tmp_path):
    _, pipe = mnist_like
    card = ModelCard.load(os.path.join(pipe, "README.md"))
    snippet = re.search(r"```python\n(.*?)```", card.text, re.DOTALL).group(1)
    result = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "sample.png").stat().st_size > 0
