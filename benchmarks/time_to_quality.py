"""Time to quality: train an hf_gan.training preset on the full MNIST and measure, every --eval_every steps, the
share of samples that the package's classifier assigns to the label asked for (class-conditional accuracy).

    python benchmarks/time_to_quality.py --config mnist_cgan --target 0.95

Training runs in chunks that resume from checkpoints; the clock counts training steps only (summed by the training
script over resumed runs) plus one start-up (data loading and set-up), measured on the first chunk. Evaluation time
is excluded. Prints one line per evaluation and the minutes to the target.
"""

import argparse
import json
import os
import shutil
import time

import torch

from hf_gan import ConditionalGANPipeline
from hf_gan.data import load_image_dataset, prepare_image_dataset
from hf_gan.metrics import evaluate_images, generate, load_mnist_classifier
from hf_gan.training import train_gan


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mnist_cgan", help="a shipped preset or a YAML file")
    parser.add_argument("--dataset_name", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    parser.add_argument("--output_dir", default="/tmp/hf_gan_time_to_quality")
    parser.add_argument("--eval_every", type=int, default=250)
    parser.add_argument("--max_steps", type=int, default=3000)
    parser.add_argument("--num_samples", type=int, default=5000)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--stop_at_target", action="store_true")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="more train_gan flags, after --")
    args = parser.parse_args()

    test = prepare_image_dataset(load_image_dataset(args.dataset_name, "test"))
    real = test.images[: args.num_samples].float() / 255
    classifier = load_mnist_classifier()
    extra = [a for a in args.extra if a != "--"]
    startup = None
    reached = None
    print(f"{'step':>6} {'train min':>9} {'class acc':>9} {'FLD':>8} {'d_real':>7} {'d_fake':>7}", flush=True)
    shutil.rmtree(args.output_dir, ignore_errors=True)
    for end in range(args.eval_every, args.max_steps + 1, args.eval_every):
        started = time.perf_counter()
        train_gan.main(
            [
                "--config",
                args.config,
                "--dataset_name",
                args.dataset_name,
                "--output_dir",
                args.output_dir,
                "--max_train_steps",
                str(end),
                "--checkpointing_steps",
                str(args.eval_every),
                "--sample_every",
                "0",
                *(["--resume_from_checkpoint", "latest"] if end > args.eval_every else []),
                *extra,
            ]
        )
        with open(os.path.join(args.output_dir, "train_results.json")) as file:
            results = json.load(file)
        if startup is None:  # the first chunk: everything but its training steps is start-up
            startup = time.perf_counter() - started - results["train_minutes"] * 60
        minutes = results["train_minutes"] + startup / 60
        pipe = ConditionalGANPipeline.from_pretrained(args.output_dir)
        fake, labels = generate(pipe, args.num_samples)
        metrics = evaluate_images(fake, real, fake_labels=labels, classifier=classifier)
        print(
            f"{end:>6} {minutes:>9.2f} {metrics['class_accuracy']:>9.4f} {metrics['fld']:>8.2f} "
            f"{results.get('d_real', float('nan')):>7.3f} {results.get('d_fake', float('nan')):>7.3f}",
            flush=True,
        )
        if reached is None and metrics["class_accuracy"] >= args.target:
            reached = (end, minutes)
            if args.stop_at_target:
                break
    print(f"start-up {startup:.0f} s; torch threads {torch.get_num_threads()}")
    if reached:
        print(f"reached {args.target:.0%} class-conditional accuracy at step {reached[0]}, {reached[1]:.2f} minutes")
    else:
        print(f"did not reach {args.target:.0%} in {args.max_steps} steps")


if __name__ == "__main__":
    main()
