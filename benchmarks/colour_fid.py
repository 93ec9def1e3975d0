"""The colour path, measured: the cifar10_cgan preset (the MNIST cGAN recipe but for the data flags) trained on a
synthetic 32x32 RGB image folder of coloured shapes (tests/test_colour.py builds the same kind), Inception-FID and KID
against the held-out images before training (step 1) and after `--max_train_steps`.

    python benchmarks/colour_fid.py --max_train_steps 300 --num_samples 300
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

from hf_gan.metrics import evaluate_pipeline


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("test_colour", os.path.join(ROOT, "tests", "test_colour.py"))
test_colour = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test_colour)  # the test's shape generator, so the benchmark measures the tested data


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max_train_steps", type=int, default=300)
    parser.add_argument("--num_samples", type=int, default=300, help="samples, and held-out images per evaluation")
    parser.add_argument("--train_per_class", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        data = test_colour.write_shapes(
            os.path.join(work, "shapes"), {"train": args.train_per_class, "test": -(-args.num_samples // 3)}
        )
        for steps in (1, args.max_train_steps):
            out = os.path.join(work, f"cgan-{steps}")
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "accelerate.commands.launch",
                    "--num_processes",
                    "1",
                    "--num_machines",
                    "1",
                    "--mixed_precision",
                    "no",
                    "--dynamo_backend",
                    "no",
                    "-m",
                    "hf_gan.training.train_gan",
                    "--config",
                    test_colour.CIFAR_PRESET,
                    "--dataset_name",
                    data,
                    "--output_dir",
                    out,
                    "--max_train_steps",
                    str(steps),
                    "--checkpointing_steps",
                    "100000",
                    "--sample_every",
                    "0",
                ],
                check=True,
            )
            metrics = evaluate_pipeline(out, data, metrics=["fid", "kid"], num_samples=args.num_samples)
            print(
                f"step {steps}: FID {metrics['fid']:.2f}, KID {metrics['kid']:.4f} ({args.num_samples} samples "
                f"against {args.num_samples} held-out images)",
                flush=True,
            )


if __name__ == "__main__":
    main()
