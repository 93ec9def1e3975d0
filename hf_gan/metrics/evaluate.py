"""Evaluate an hf_gan pipeline against a real image dataset: `evaluate_pipeline` is what `hf-gan evaluate`, the
benchmarks and users call.

- FID and KID in the feature space of the standard Inception-v3 (inception.py), against the `split` images.
- Class metrics in the feature space of a small classifier trained on the same dataset (classifier.py): FLD, the
  Fréchet distance of its penultimate features, beside its floor (the same distance between two real sets, `
  reference_split` against `split`: what a perfect generator would score), class-conditional accuracy beside the
  classifier's own accuracy on the real images, k-NN precision/recall and the predicted-class histogram.
- The copying check (scores.copying_ratio): the samples' distance to their nearest `reference_split` (training)
  image against the training images' distance to their nearest other one; a model that copies scores below 1.
"""

import os
import time

import torch

from ..data import DatasetError, load_image_dataset, prepare_image_dataset
from .classifier import ImageClassifier, load_classifier, load_mnist_classifier
from .scores import class_histogram, copying_ratio, frechet_distance, precision_recall


METRICS = ("fid", "kid", "classifier", "copying")
MNIST_LABELS = [str(i) for i in range(10)]
# What a card's evaluation section and model-index show (the JSON output has everything).
CARD_METRICS = (
    "fid",
    "kid",
    "fld",
    "fld_floor",
    "class_accuracy",
    "classifier_accuracy_on_real",
    "precision",
    "recall",
    "histogram_max_deviation_pp",
    "histogram_max_deviation_pp_on_real",
    "classes_present",
    "copying_ratio",
)


@torch.no_grad()
def classify(images: torch.Tensor, classifier, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features and predicted classes of images (N, C, H, W) in [0, 1]."""
    features, predictions = [], []
    for i in range(0, len(images), batch_size):
        f = classifier.features(images[i : i + batch_size].float())
        features.append(f)
        predictions.append(classifier.head(f).argmax(1))
    return torch.cat(features), torch.cat(predictions)


@torch.no_grad()
def generate(
    pipe, num_samples: int, batch_size: int = 500, seed: int = 0, class_labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`num_samples` images in [0, 1] on the CPU and, for a conditional pipeline, the labels asked for: `class_labels`
    (cycled to `num_samples`, or evenly spaced picks of them when there are more, so that a label list sorted by class
    keeps its proportions) or, without them, every class equally often."""
    conditional = hasattr(pipe, "get_label_ids")
    labels = None
    if conditional:
        asked = torch.arange(len(pipe.id2label)) if class_labels is None else class_labels.long()
        picks = torch.arange(num_samples)
        labels = asked[picks * len(asked) // num_samples if len(asked) > num_samples else picks % len(asked)]
    generator = torch.Generator().manual_seed(seed)
    images = []
    for i in range(0, num_samples, batch_size):
        n = min(batch_size, num_samples - i)
        args = {"class_labels": labels[i : i + n].tolist()} if conditional else {"batch_size": n}
        images.append(pipe(**args, generator=generator, output_type="pt").images.cpu())
    return torch.cat(images), labels


def check_classifier(classifier: ImageClassifier, images: torch.Tensor, label_names: list[str] | None) -> None:
    """Refuses a classifier trained on other images or other classes than the dataset's."""
    config = classifier.config
    if (config.in_channels, config.sample_size) != (images.shape[1], images.shape[-1]):
        raise ValueError(
            f"The classifier was trained on {config.in_channels}x{config.sample_size}x{config.sample_size} images; "
            f"these are {'x'.join(map(str, images.shape[1:]))}. Train one on this dataset with "
            "training/train_classifier.py and pass it with --classifier."
        )
    names = config.label_names or [str(i) for i in range(config.num_classes)]
    if label_names is not None and list(label_names) != list(names):
        raise ValueError(
            f"The classifier's classes {names[:12]} are not the dataset's {list(label_names)[:12]}: train one on this "
            "dataset with training/train_classifier.py and pass it with --classifier."
        )


def evaluate_images(
    fake: torch.Tensor,
    real: torch.Tensor,
    reference: torch.Tensor | None = None,
    fake_labels: torch.Tensor | None = None,
    real_labels: torch.Tensor | None = None,
    classifier=None,
) -> dict:
    """The class metrics of generated images `fake` against real images `real` (both (N, C, H, W) in [0, 1]) in the
    feature space of `classifier` (default: the shipped MNIST one). `reference`, a second real set (e.g. train
    images), gives the FLD floor; `fake_labels` (the labels asked for) gives class-conditional accuracy;
    `real_labels` the classifier's own accuracy, the ceiling for it, and its histogram deviation on the real images,
    the floor for the samples'. The histogram deviation compares the predicted classes of `fake` with the
    proportions of `fake_labels`, else of `real_labels`, else uniform ones."""
    classifier = classifier or load_mnist_classifier()
    check_classifier(classifier, fake, None)
    check_classifier(classifier, real, None)
    fake_features, fake_predicted = classify(fake, classifier)
    real_features, real_predicted = classify(real, classifier)
    precision, recall = precision_recall(real_features, fake_features)
    histogram = class_histogram(fake_predicted, classifier.config.num_classes)
    metrics = {"fld": frechet_distance(fake_features, real_features)}
    if reference is not None:
        metrics["fld_floor"] = frechet_distance(classify(reference, classifier)[0], real_features)
        metrics["fld_over_floor"] = metrics["fld"] / metrics["fld_floor"]
    metrics["precision"], metrics["recall"] = precision, recall
    if fake_labels is not None:
        metrics["class_accuracy"] = (fake_predicted == fake_labels).double().mean().item()
    if real_labels is not None:
        metrics["classifier_accuracy_on_real"] = (real_predicted == real_labels).double().mean().item()
    metrics["classes_present"] = int((histogram > 0.1 / len(histogram)).sum())
    # against the class proportions the samples should have: those of the labels asked for, else of the real images
    # (p_g = p_data), else uniform; MNIST's classes are not balanced (from 9 % to 11 % of the digits)
    target_labels = fake_labels if fake_labels is not None else real_labels
    target = (
        class_histogram(target_labels, len(histogram))
        if target_labels is not None
        else torch.full_like(histogram, 1 / len(histogram))
    )
    metrics["histogram_max_deviation_pp"] = float((histogram - target).abs().max() * 100)
    if real_labels is not None:
        # what a sampler of the real images would score: the classifier's own errors do not cancel over classes
        real_target = class_histogram(real_labels, len(histogram))
        real_histogram = class_histogram(real_predicted, len(histogram))
        metrics["histogram_max_deviation_pp_on_real"] = float((real_histogram - real_target).abs().max() * 100)
    metrics["class_histogram"] = [round(float(h), 4) for h in histogram]
    metrics["target_histogram"] = [round(float(h), 4) for h in target]
    return metrics


def dataset_id_of(dataset: str) -> str:
    """The name the card's model-index gives a dataset: a Hub id as is, a local folder by its name."""
    return os.path.basename(os.path.normpath(dataset)) if os.path.exists(dataset) else dataset


def load_real(dataset: str, split: str, count: int, num_channels: int, image_column=None, label_column=None):
    data = prepare_image_dataset(
        load_image_dataset(dataset, split), image_column, label_column, num_channels=num_channels, max_samples=count
    )
    return data.images, data.labels, data.label_names


def evaluate_pipeline(
    pipeline,
    dataset: str,
    metrics=None,
    classifier=None,
    split: str = "test",
    reference_split: str = "train",
    num_samples: int = 10_000,
    num_real: int | None = None,
    batch_size: int = 500,
    seed: int = 0,
    device: str = "cpu",
    dataset_id: str | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
    update_card: bool = False,
) -> dict:
    """Measures `pipeline` (an hf_gan pipeline, a folder or a Hub repo id) on `num_samples` samples against the real
    images of `split` of `dataset` (anything hf_gan.data reads): its first `num_real` (default `num_samples`; 0: all
    of them, as for a small set).

    `metrics`: any of "fid", "kid", "classifier", "copying"; default: the class metrics when a classifier is known
    (`classifier`, a folder / Hub id / ImageClassifier, or the shipped one for MNIST-shaped digits), else FID and KID.
    (Inception costs about 6 GFLOP an image: on a CPU, ask for FID and KID when you can wait for them.)
    `update_card` writes the card metrics into the pipeline folder's README.md (evaluation section and model-index,
    naming `dataset_id`, default the dataset's Hub id or folder name)."""
    from ..model_card import update_card_metrics
    from ..pipelines import HfGanPipeline

    started = time.perf_counter()
    folder = pipeline if isinstance(pipeline, str) else None
    if update_card and not (folder and os.path.isfile(os.path.join(folder, "README.md"))):
        raise ValueError(f"Updating the card needs a local pipeline folder with a README.md; {pipeline} is not one.")
    pipe = HfGanPipeline.from_pretrained(pipeline) if folder else pipeline
    pipe = pipe.to(device)
    fake, _ = generate(pipe, 1, seed=seed)  # the model's image shape, before loading anything large
    channels, resolution = fake.shape[1], fake.shape[-1]
    num_real = num_samples if num_real is None else num_real or None
    real, real_labels, label_names = load_real(dataset, split, num_real, channels, image_column, label_column)
    if tuple(real.shape[1:]) != tuple(fake.shape[1:]):
        raise DatasetError(
            f"The pipeline makes {channels}x{resolution}x{resolution} images but {split!r} of {dataset} holds "
            f"{'x'.join(map(str, real.shape[1:]))} images: evaluate on the data the model was trained on (at its "
            "--resolution), or retrain at this dataset's size."
        )
    if metrics is None:
        mnist_shaped = (channels, resolution) == (1, 28) and label_names == MNIST_LABELS
        metrics = ["classifier"] if classifier is not None or mnist_shaped else ["fid", "kid"]
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"Unknown metrics {sorted(unknown)}: choose among {', '.join(METRICS)}.")

    reference = reference_labels = None
    if "classifier" in metrics:
        if real_labels is None:
            raise DatasetError(
                f"Class metrics need labels, and {dataset} has none (no label column): drop "
                "'classifier' from the metrics, or pass --label_column."
            )
        if classifier is None:
            if label_names != MNIST_LABELS:
                raise ValueError(
                    "Class metrics on a dataset other than MNIST need a classifier trained on it: train "
                    "one with training/train_classifier.py and pass it with --classifier."
                )
            classifier = load_mnist_classifier()
        classifier = load_classifier(classifier) if isinstance(classifier, str) else classifier
        check_classifier(classifier, real, label_names)
    if "classifier" in metrics or "copying" in metrics:
        reference, reference_labels, _ = load_real(
            dataset, reference_split, num_real, channels, image_column, label_column
        )
    # A conditional pipeline is asked for the reference images' labels: its samples then have the classes, in the
    # same proportions, as the real set that gives the FLD floor (asked for every class equally often, even the
    # reference images themselves would score 1.5x the floor on MNIST, whose classes are not balanced).
    asked = reference_labels if reference_labels is not None else real_labels
    if hasattr(pipe, "get_label_ids") and asked is not None and int(asked.max()) >= len(pipe.id2label):
        raise DatasetError(f"{dataset} has {int(asked.max()) + 1} classes; the pipeline knows {len(pipe.id2label)}.")
    fake, fake_labels = generate(pipe, num_samples, batch_size=batch_size, seed=seed, class_labels=asked)

    results = {"num_samples": num_samples, "num_real": len(real)}
    if "fid" in metrics or "kid" in metrics:
        from .inception import InceptionFeatures, cached_features, dataset_key, fid_kid, inception_features

        network = InceptionFeatures()
        key = dataset_key(dataset, split, resolution, channels, len(real))
        real_features = cached_features(key, lambda: real, network, device=device)
        fake_features = inception_features(fake, network, device=device, desc="Inception features of samples")
        scores = fid_kid(fake_features, real_features, seed=seed)
        results.update({k: v for k, v in scores.items() if k in metrics or k == "kid_std" and "kid" in metrics})
    if "classifier" in metrics:
        results.update(
            evaluate_images(
                fake.float(), real.float() / 255, reference.float() / 255, fake_labels, real_labels, classifier
            )
        )
    if "copying" in metrics:
        results.update(copying_ratio(fake.float(), reference.float() / 255))
    dataset_id = dataset_id or dataset_id_of(dataset)
    results["pipeline"] = type(pipe).__name__
    results["dataset"] = dataset_id
    results["protocol"] = (
        f"{num_samples} samples (seed {seed}) against {len(real)} real images of the {split} split of {dataset_id}"
        + (
            "; FID and KID (subsets of up to 1000) with the standard Inception-v3 (TF 2015-12-05 weights)"
            if {"fid", "kid"} & set(metrics)
            else ""
        )
        + (
            f"; FLD floor: {len(reference)} {reference_split} images against the same {split} images; a conditional "
            f"pipeline is asked for the labels of those {reference_split} images; features and predictions of the "
            f"classifier trained on {classifier.config.dataset or 'this dataset'}"
            if "classifier" in metrics
            else ""
        )
        + (
            f"; copying check: pixel distances of the samples to their nearest of {len(reference)} {reference_split} "
            "images, over those of the same images to their nearest other one (medians)"
            if "copying" in metrics
            else ""
        )
    )
    results["seconds"] = round(time.perf_counter() - started, 1)
    if update_card:
        card_metrics = {k: results[k] for k in CARD_METRICS if k in results}
        update_card_metrics(
            os.path.join(folder, "README.md"),
            card_metrics,
            results["protocol"] + ".",
            dataset_id,
            dataset_id.split("/")[-1],
            dataset_split=split,
        )
    return results
