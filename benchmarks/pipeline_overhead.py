"""Pipeline overhead: images/s of GANPipeline / ConditionalGANPipeline against a bare forward pass of the same
generator, at batch 1 and 256, in the same process.

    python benchmarks/pipeline_overhead.py [--pipeline model_zoo/mnist-cgan]

The bare loop draws the same N(0, I) noise with torch.randn and calls the generator under torch.no_grad(); the
pipeline adds input checks, latent preparation and output conversion. Output type "pt" isolates the pipeline's own
work; "np" and "pil" add the conversions a user asks for.
"""

import argparse
import statistics
import time

import torch

from hf_gan import ConditionalGANPipeline, DCGANGenerator, HfGanPipeline


def images_per_second(fn, batch_size, seconds):
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += batch_size
    return count / (time.perf_counter() - start)


def compare(bare, pipeline, batch_size, seconds, rounds=7):
    """Medians of bare and pipeline images/s, and of their per-round ratio; the two alternate so drift hits both."""
    bare(), pipeline()  # warm-up
    bare_rates, pipe_rates = [], []
    for _ in range(rounds):
        bare_rates.append(images_per_second(bare, batch_size, seconds / (2 * rounds)))
        pipe_rates.append(images_per_second(pipeline, batch_size, seconds / (2 * rounds)))
    ratios = [p / b for p, b in zip(pipe_rates, bare_rates)]
    return statistics.median(bare_rates), statistics.median(pipe_rates), statistics.median(ratios)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", help="a pipeline folder or repo (default: an untrained MNIST-sized cGAN)")
    parser.add_argument("--seconds", type=float, default=8.0, help="timing budget per row")
    args = parser.parse_args()
    if args.pipeline:
        pipe = HfGanPipeline.from_pretrained(args.pipeline)
    else:
        torch.manual_seed(0)
        pipe = ConditionalGANPipeline(DCGANGenerator(num_classes=10).eval())
    generator = pipe.generator
    conditional = generator.config.num_classes is not None
    latent_dim = generator.config.latent_dim
    print(f"{type(pipe).__name__}, torch threads {torch.get_num_threads()}")
    print(f"{'batch':>5} {'output':>6} {'bare img/s':>11} {'pipeline img/s':>15} {'pipeline/bare':>13}")
    for batch_size in (1, 256):
        labels = torch.arange(batch_size) % 10

        def bare():
            with torch.no_grad():
                z = torch.randn(batch_size, latent_dim)
                return generator(z, labels) if conditional else generator(z)

        for output_type in ("pt", "np", "pil"):
            call_args = {"class_labels": labels.tolist()} if conditional else {"batch_size": batch_size}
            run = lambda: pipe(**call_args, output_type=output_type)  # noqa: E731
            bare_rate, pipe_rate, ratio = compare(bare, run, batch_size, args.seconds)
            print(f"{batch_size:>5} {output_type:>6} {bare_rate:>11.0f} {pipe_rate:>15.0f} {ratio:>13.3f}", flush=True)


if __name__ == "__main__":
    main()
