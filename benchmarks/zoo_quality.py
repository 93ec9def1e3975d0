"""The zoo's quality bars: each model_zoo pipeline measured on 10,000 samples against the 10,000 MNIST test images.

    python benchmarks/zoo_quality.py [--update-card]

Bars (issue "Honest quality"): conditional GAN: class-conditional accuracy >= 99 %, FLD <= 2x the real train/test
floor, every class present; unconditional GAN: FLD <= 3x the floor, predicted-class histogram within 2 percentage
points of uniform; the autoencoder is measured the same way, as the baseline.
"""

import argparse
import os
from types import SimpleNamespace

from hf_gan.cli import CARD_METRICS, evaluate
from hf_gan.model_card import update_card_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BARS = {
    "mnist-cgan": {"class_accuracy": (">=", 0.99), "fld_over_floor": ("<=", 2.0), "classes_present": (">=", 10)},
    "mnist-gan": {"fld_over_floor": ("<=", 3.0), "histogram_max_deviation_pp": ("<=", 2.0), "classes_present": (">=", 10)},
    "mnist-autoencoder": {},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", default="model_zoo")
    parser.add_argument("--dataset", default="../shared/data/mnist", help="relative to the repository root")
    parser.add_argument("--num_samples", type=int, default=10_000)
    parser.add_argument("--update-card", dest="update_card", action="store_true")
    parser.add_argument("--only", nargs="*", help="zoo folder names to measure (default: all)")
    args = parser.parse_args()
    os.chdir(ROOT)  # paths (and the protocol written into the cards) relative to the repository root
    for name, bars in BARS.items():
        if args.only and name not in args.only:
            continue
        folder = os.path.join(args.zoo, name)
        metrics = evaluate(SimpleNamespace(pipeline=folder, dataset=args.dataset, split="test", reference_split="train",
                                           num_samples=args.num_samples, batch_size=500, seed=0, device="cpu", inception=None))
        print(f"\n{name}: FLD {metrics['fld']:.3f} (floor {metrics['fld_floor']:.3f}, ratio {metrics['fld_over_floor']:.2f}), "
              f"precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}, classes {metrics['classes_present']}, "
              f"histogram max deviation {metrics['histogram_max_deviation_pp']:.2f} pp"
              + (f", class accuracy {metrics['class_accuracy']:.4f}" if "class_accuracy" in metrics else "")
              + f" (classifier on real test digits: {metrics['classifier_accuracy_on_real']:.4f})")
        for metric, (op, bar) in bars.items():
            value = metrics[metric]
            ok = value >= bar if op == ">=" else value <= bar
            print(f"  {'PASS' if ok else 'FAIL'}  {metric} = {value:.4g} (bar {op} {bar})")
        if args.update_card:
            card_metrics = {k: metrics[k] for k in CARD_METRICS if k in metrics}
            update_card_metrics(os.path.join(folder, "README.md"), card_metrics, metrics["protocol"] + ".", "ylecun/mnist", "MNIST")


if __name__ == "__main__":
    main()
