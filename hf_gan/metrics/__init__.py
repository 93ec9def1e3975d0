"""Sample-quality metrics for hf_gan pipelines: `evaluate_pipeline` (evaluate.py) measures a pipeline against a real
dataset; `hf-gan evaluate` is its command line."""

from .classifier import ImageClassifier, load_classifier, load_mnist_classifier
from .evaluate import classify, evaluate_images, evaluate_pipeline, generate
from .scores import class_histogram, copying_ratio, frechet_distance, precision_recall


__all__ = [
    "ImageClassifier",
    "class_histogram",
    "classify",
    "copying_ratio",
    "evaluate_images",
    "evaluate_pipeline",
    "frechet_distance",
    "generate",
    "load_classifier",
    "load_mnist_classifier",
    "precision_recall",
]
