"""The zoo's quality bars: each model_zoo pipeline measured on 10,000 samples against the 10,000 MNIST test images.

    python benchmarks/zoo_quality.py [--update_card] [--metrics fid,kid,classifier]

Bars (issue "Performance frontier", tighter than those of issue "Honest quality"): conditional GAN: class-conditional
accuracy >= 99.5 %, FLD <= 1.5x the real train/test floor, predicted-class histogram within 1 percentage point of the
asked labels' proportions, every class present; unconditional GAN: FLD <= 1.5x the floor, histogram within 2 points
of the test digits' class proportions, every class; the autoencoder is measured the same way, as the baseline. With
--classifier, a second classifier (e.g. model_zoo/mnist-classifier-wide) measures the same samples. With fid,kid:
Inception-FID and KID under the protocol of Lucic et al. 2018 (10,000 samples against the 10,000 test images), whose
best MNIST FID was 6.7.
"""

import argparse
import os

from hf_gan.metrics import evaluate_pipeline


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BARS = {
    "mnist-cgan": {
        "class_accuracy": (">=", 0.995),
        "fld_over_floor": ("<=", 1.5),
        "histogram_max_deviation_pp": ("<=", 1.0),
        "classes_present": (">=", 10),
    },
    "mnist-gan": {
        "fld_over_floor": ("<=", 1.5),
        "histogram_max_deviation_pp": ("<=", 2.0),
        "classes_present": (">=", 10),
    },
    "mnist-autoencoder": {},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", default="model_zoo")
    parser.add_argument("--dataset", default="../shared/data/mnist", help="relative to the repository root")
    parser.add_argument("--num_samples", type=int, default=10_000)
    parser.add_argument("--metrics", default="classifier", help="comma-separated, among fid, kid, classifier")
    parser.add_argument("--update_card", "--update-card", action="store_true")
    parser.add_argument("--only", nargs="*", help="zoo folder names to measure (default: all)")
    parser.add_argument("--device", default="cpu", help="where the pipelines and the Inception network run, e.g. cuda")
    parser.add_argument("--classifier", help="another MNIST classifier folder for the class metrics (not for cards)")
    args = parser.parse_args()
    if args.classifier and args.update_card:
        parser.error("the cards hold the shipped classifier's figures: --classifier without --update_card")
    os.chdir(ROOT)  # paths (and the protocol written into the cards) relative to the repository root
    for name, bars in BARS.items():
        if args.only and name not in args.only:
            continue
        metrics = evaluate_pipeline(
            os.path.join(args.zoo, name),
            args.dataset,
            metrics=args.metrics.split(","),
            num_samples=args.num_samples,
            classifier=args.classifier,
            dataset_id="ylecun/mnist",
            update_card=args.update_card,
            device=args.device,
        )
        print(f"\n{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float)))
        for metric, (op, bar) in bars.items():
            if metric in metrics:
                value = metrics[metric]
                ok = value >= bar if op == ">=" else value <= bar
                print(f"  {'PASS' if ok else 'FAIL'}  {metric} = {value:.4g} (bar {op} {bar})")


if __name__ == "__main__":
    main()
