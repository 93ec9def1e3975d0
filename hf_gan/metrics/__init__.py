"""Honest sample-quality metrics for hf_gan pipelines (see evaluate.py); `hf-gan evaluate` is the command line."""

from .classifier import MNISTClassifier, load_mnist_classifier
from .evaluate import classify, evaluate_images, generate, inception_fid, inception_features
from .scores import class_histogram, frechet_distance, precision_recall

__all__ = [
    "MNISTClassifier",
    "class_histogram",
    "classify",
    "evaluate_images",
    "frechet_distance",
    "generate",
    "inception_features",
    "inception_fid",
    "load_mnist_classifier",
    "precision_recall",
]
