"""Evaluate an hf_gan pipeline against real MNIST digits with the package's classifier (and optionally Inception).

FLD is the Fréchet distance in the classifier's 128-d penultimate feature space, reported beside its floor: the
same distance between two real sets (train vs test), which is what a perfect generator would score.
"""

import torch
import torch.nn.functional as F

from .classifier import load_mnist_classifier
from .scores import class_histogram, frechet_distance, precision_recall


@torch.no_grad()
def classify(images: torch.Tensor, classifier, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features and predicted classes of images (N, 1, 28, 28) in [0, 1]."""
    features, predictions = [], []
    for i in range(0, len(images), batch_size):
        f = classifier.features(images[i : i + batch_size].float())
        features.append(f)
        predictions.append(classifier.head(f).argmax(1))
    return torch.cat(features), torch.cat(predictions)


@torch.no_grad()
def generate(pipe, num_samples: int, batch_size: int = 500, seed: int = 0,
             class_labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`num_samples` images in [0, 1] on the CPU and, for a conditional pipeline, the labels asked for: `class_labels`
    (cycled to `num_samples`) or, without them, every class equally often."""
    conditional = hasattr(pipe, "get_label_ids")
    labels = None
    if conditional:
        asked = torch.arange(len(pipe.id2label)) if class_labels is None else class_labels.long()
        labels = asked[torch.arange(num_samples) % len(asked)]
    generator = torch.Generator().manual_seed(seed)
    images = []
    for i in range(0, num_samples, batch_size):
        n = min(batch_size, num_samples - i)
        args = {"class_labels": labels[i : i + n].tolist()} if conditional else {"batch_size": n}
        images.append(pipe(**args, generator=generator, output_type="pt").images.cpu())
    return torch.cat(images), labels


def check_mnist_shaped(images: torch.Tensor) -> None:
    if tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(
            f"hf_gan's classifier metrics are for 28x28 grayscale digits (MNIST); these images are {tuple(images.shape[1:])}."
            " Use --inception for other datasets."
        )


def evaluate_images(fake: torch.Tensor, real: torch.Tensor, reference: torch.Tensor | None = None,
                    fake_labels: torch.Tensor | None = None, real_labels: torch.Tensor | None = None,
                    classifier=None) -> dict:
    """All classifier metrics for generated images `fake` against real images `real` (both (N, 1, 28, 28) in
    [0, 1]). `reference`, a second real set (e.g. train images), gives the FLD floor; `fake_labels` (the labels asked
    for) gives class-conditional accuracy; `real_labels` the classifier's own accuracy, the ceiling for it."""
    check_mnist_shaped(fake)
    check_mnist_shaped(real)
    classifier = classifier or load_mnist_classifier()
    fake_features, fake_predicted = classify(fake, classifier)
    real_features, real_predicted = classify(real, classifier)
    precision, recall = precision_recall(real_features, fake_features)
    histogram = class_histogram(fake_predicted, classifier.config.num_classes)
    metrics = {"num_samples": len(fake), "fld": frechet_distance(fake_features, real_features)}
    if reference is not None:
        metrics["fld_floor"] = frechet_distance(classify(reference, classifier)[0], real_features)
        metrics["fld_over_floor"] = metrics["fld"] / metrics["fld_floor"]
    metrics["precision"], metrics["recall"] = precision, recall
    if fake_labels is not None:
        metrics["class_accuracy"] = (fake_predicted == fake_labels).double().mean().item()
    if real_labels is not None:
        metrics["classifier_accuracy_on_real"] = (real_predicted == real_labels).double().mean().item()
    metrics["classes_present"] = int((histogram > 0.1 / len(histogram)).sum())
    metrics["histogram_max_deviation_pp"] = float((histogram - 1 / len(histogram)).abs().max() * 100)
    metrics["class_histogram"] = [round(float(h), 4) for h in histogram]
    return metrics


@torch.no_grad()
def inception_features(images: torch.Tensor, torchscript_path: str, batch_size: int = 100) -> torch.Tensor:
    """Pool features of a local TorchScript Inception-v3 (e.g. the `pt_inception-2015-12-05` file of the StyleGAN
    metrics), following the usual protocol: grayscale tiled to 3 channels, uint8 pixels, resized to 299x299.
    The file is loaded by path; nothing is downloaded. It must take (N, 3, 299, 299) uint8 and accept
    `return_features=True` (StyleGAN's convention) or return the features directly."""
    model = torch.jit.load(torchscript_path, map_location="cpu").eval()
    features = []
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size].float()
        batch = batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch
        batch = F.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False)
        batch = (batch * 255).round().clamp(0, 255).to(torch.uint8)
        try:
            out = model(batch, return_features=True)
        except (RuntimeError, TypeError):
            out = model(batch)
        features.append(out.flatten(1).double())
    return torch.cat(features)


def inception_fid(fake: torch.Tensor, real: torch.Tensor, torchscript_path: str) -> float:
    return frechet_distance(inception_features(fake, torchscript_path), inception_features(real, torchscript_path))
