"""Pipeline overhead: images/s of GANPipeline / ConditionalGANPipeline against a bare forward pass of the same
generator, at batch 1 and 256 (and others), in the same process, on the CPU or a GPU.

    python benchmarks/pipeline_overhead.py [--pipeline model_zoo/mnist-cgan] [--device cuda --batch_sizes 1 256 4096]

The bare loop draws the same N(0, I) noise with torch.randn and calls the generator under torch.no_grad(); the
pipeline adds input checks, latent preparation and output conversion. Output type "pt" isolates the pipeline's own
work; "np" and "pil" add the conversions a user asks for.
"""

import argparse
import statistics
import time

import torch

from hf_gan import ConditionalGANPipeline, DCGANGenerator, HfGanPipeline


def images_per_second(fn, batch_size, seconds, sync):
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += batch_size
    sync()  # a GPU's queued work is part of the time
    return count / (time.perf_counter() - start)


def compare(bare, pipeline, batch_size, seconds, sync, rounds=7):
    """Medians of bare and pipeline images/s, and of their per-round ratio; the two alternate so drift hits both."""
    bare(), pipeline()  # warm-up
    bare_rates, pipe_rates = [], []
    for _ in range(rounds):
        bare_rates.append(images_per_second(bare, batch_size, seconds / (2 * rounds), sync))
        pipe_rates.append(images_per_second(pipeline, batch_size, seconds / (2 * rounds), sync))
    ratios = [p / b for p, b in zip(pipe_rates, bare_rates)]
    return statistics.median(bare_rates), statistics.median(pipe_rates), statistics.median(ratios)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", help="a pipeline folder or repo (default: an untrained MNIST-sized cGAN)")
    parser.add_argument("--seconds", type=float, default=8.0, help="timing budget per row")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 256])
    args = parser.parse_args()
    if args.pipeline:
        pipe = HfGanPipeline.from_pretrained(args.pipeline)
    else:
        torch.manual_seed(0)
        pipe = ConditionalGANPipeline(DCGANGenerator(num_classes=10).eval())
    pipe.to(args.device)
    generator = pipe.generator
    conditional = generator.config.num_classes is not None
    latent_dim = generator.config.latent_dim
    on_gpu = args.device.startswith("cuda")
    where = torch.cuda.get_device_name(args.device) if on_gpu else f"CPU, {torch.get_num_threads()} threads"
    sync = torch.cuda.synchronize if on_gpu else lambda: None
    print(f"{type(pipe).__name__} on {where} (torch {torch.__version__})")
    print(f"{'batch':>5} {'output':>6} {'bare img/s':>11} {'pipeline img/s':>15} {'pipeline/bare':>13}")
    for batch_size in args.batch_sizes:
        labels = torch.arange(batch_size, device=args.device) % 10

        def bare():
            with torch.no_grad():
                z = torch.randn(batch_size, latent_dim, device=args.device)
                return generator(z, labels) if conditional else generator(z)

        for output_type in ("pt", "np", "pil"):
            call_args = {"class_labels": labels.tolist()} if conditional else {"batch_size": batch_size}
            run = lambda: pipe(**call_args, output_type=output_type)  # noqa: E731
            bare_rate, pipe_rate, ratio = compare(bare, run, batch_size, args.seconds, sync)
            print(f"{batch_size:>5} {output_type:>6} {bare_rate:>11.0f} {pipe_rate:>15.0f} {ratio:>13.3f}", flush=True)


if __name__ == "__main__":
    main()
