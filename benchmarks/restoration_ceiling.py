"""How much of the class each corruption of benchmarks/restoration.py leaves: the evaluation classifier's network and
recipe (training/train_classifier.py), trained on corrupted train images and scored on the same corrupted test
images as the restorers.

    python benchmarks/restoration_ceiling.py [--dataset ../shared/data/mnist] [--epochs 4 --width 16]

A restorer followed by a classifier is itself a classifier of the corrupted image, so no restorer can be recognised
more often than the best classifier of corrupted images. The one trained here is an estimate of that best from below
(a wider or longer-trained one may do better; --width, --epochs): where it falls short of a restoration goal, the
goal asks a restorer to recover class information that this classifier could not find in the input either. It
prints, per task, its accuracy beside the same recipe's on clean images.
"""

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F
from restoration import ROOT, TASKS, corrupt, load_digits


sys.path.insert(0, os.path.join(ROOT, "training"))
from train_classifier import accuracy, fit  # noqa: E402

from hf_gan.metrics.classifier import ImageClassifier  # noqa: E402


def as_input(task, corrupted):
    """What the classifier sees: 28x28 images; a 7x7 input enlarged by repeating its pixels (nothing lost)."""
    return F.interpolate(corrupted, scale_factor=4, mode="nearest") if task == "superres_x4" else corrupted


def training_corruption(task):
    """The task's corruption of a training batch, fresh noise from the training generator for the noise task."""

    def apply(images, generator):
        seed = int(torch.randint(2**31, (1,), generator=generator))
        return as_input(task, corrupt(task, images, seed)[0])

    return apply


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    parser.add_argument("--tasks", default=",".join(("clean",) + TASKS))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--num_threads", type=int, default=1)
    parser.add_argument(
        "--seed", type=int, default=0, help="training seed (the test images' noise is restoration.py's, seed 0)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.num_threads)

    train_images, train_labels = load_digits(args.dataset, "train", None)
    test_images, test_labels = load_digits(args.dataset, "test", None)
    rows = {}
    for task in args.tasks.split(","):
        start = time.perf_counter()
        torch.manual_seed(args.seed)
        generator = torch.Generator().manual_seed(args.seed)
        model = ImageClassifier(
            width=args.width,
            num_classes=int(train_labels.max()) + 1,
            mean=train_images.mean().item(),
            std=train_images.std().item(),
        )
        if task == "clean":
            test_inputs, corruption = test_images, None
        else:
            test_inputs, corruption = as_input(task, corrupt(task, test_images, 0)[0]), training_corruption(task)
        print(f"{task}:", flush=True)
        score = lambda: accuracy(model, test_inputs, test_labels)  # noqa: E731
        fit(model, train_images, train_labels, args, generator, score, corruption)
        rows[task] = (score(), time.perf_counter() - start)

    print(f"\n{args.dataset}: {len(test_images)} test images; classifier width {args.width}, {args.epochs} epochs")
    print("| corruption | accuracy of a classifier trained on it | seconds |")
    print("| --- | --- | --- |")
    for task, (acc, seconds) in rows.items():
        print(f"| {task} | {acc:.2%} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
