"""Streaming against in-memory training as the dataset grows: peak RSS, images/s and time to the first step of 200
steps of train_gan on parquet shards of 10k, 100k and 1M synthetic 64x64 RGB images.

    python benchmarks/streaming_scaling.py synthesise [--data_dir benchmarks/streaming_data] [--sizes 10k 100k 1M]
    python benchmarks/streaming_scaling.py run [--sizes 10k 100k 1M] [--steps 200]

`synthesise` writes the images once: 5,000-row parquet shards (PNG bytes, an Image feature and a ClassLabel of the
shape drawn), 1M/ holding all of them and 10k/ and 100k/ links to its first shards. The images are a colour gradient
with one flat ellipse, rectangle or triangle, so PNG keeps them small (344 MB for the 1M).

`run` trains an unconditional GAN (16 channels, batch 64, one torch thread) on each size in its own process,
streaming (--streaming, --dataloader_num_workers 1) and, where the decoded dataset takes at most --in_memory_max_gb,
in memory (--no-streaming); it prints one row per run: the peak memory of the training process and its DataLoader
workers (the largest sum of their proportional set sizes, PSS, so that pages a forked worker shares are counted once;
sampled every 0.2 s from /proc), images/s (the script's own clock of training-step time, train_results.json, over all
steps, the first included) and the wall time from starting the process to its log line "First step done". With
--repeats, the two paths alternate (the load of a shared machine drifts) and the table gives the largest peak
memory, the median images/s with the ratio of the medians, and the longest time to the first step.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import numpy as np


SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
SHARD_ROWS = 5_000
SHAPES = ["ellipse", "rectangle", "triangle"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def synthetic_image(rng: np.random.Generator, size: int = 64):
    """(PNG bytes, label): a two-colour gradient with one flat shape in a third colour."""
    import io

    import PIL.Image
    import PIL.ImageDraw

    a, b, c = rng.integers(0, 256, (3, 3))
    t = np.linspace(0, 1, size)[:, None, None]
    pixels = (a * (1 - t) + b * t).astype(np.uint8).repeat(size, axis=1)
    image = PIL.Image.fromarray(pixels)
    label = int(rng.integers(len(SHAPES)))
    x0, y0 = rng.integers(0, size // 2, 2)
    x1, y1 = (x0, y0) + rng.integers(8, size // 2, 2)
    draw = PIL.ImageDraw.Draw(image)
    box = [int(x0), int(y0), int(x1), int(y1)]
    if label == 0:
        draw.ellipse(box, fill=tuple(int(v) for v in c))
    elif label == 1:
        draw.rectangle(box, fill=tuple(int(v) for v in c))
    else:
        draw.polygon(
            [(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=tuple(int(v) for v in c)
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue(), label


def synthesise(data_dir: str, sizes: list) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=SHAPES)})
    full = os.path.join(data_dir, "1M")
    os.makedirs(full, exist_ok=True)
    num_shards = SIZES["1M"] // SHARD_ROWS  # the 1M's names: a later, larger `synthesise` reuses the shards
    for shard in range(max(SIZES[name] for name in sizes) // SHARD_ROWS):
        path = os.path.join(full, f"train-{shard:05d}-of-{num_shards:05d}.parquet")
        if not os.path.isfile(path):
            rng = np.random.default_rng(shard)
            rows = [synthetic_image(rng) for _ in range(SHARD_ROWS)]
            table = pa.Table.from_pydict(
                {"image": [{"bytes": png, "path": None} for png, _ in rows], "label": [label for _, label in rows]},
                schema=features.arrow_schema,
            )
            pq.write_table(table, path + ".tmp", row_group_size=1000)
            os.replace(path + ".tmp", path)  # a killed run leaves no half-written shard
        for name, size in SIZES.items():
            if name != "1M" and shard < size // SHARD_ROWS:
                folder = os.path.join(data_dir, name)
                os.makedirs(folder, exist_ok=True)
                link = os.path.join(folder, os.path.basename(path))
                if not os.path.islink(link):
                    os.symlink(os.path.relpath(path, folder), link)
        print(f"shard {shard + 1}/{num_shards}", flush=True)


def tree_pss(pid: int) -> int:
    """Proportional set size of `pid` and its descendants (the DataLoader workers): shared pages counted once."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as file:
                total += next(int(line.split()[1]) * 1024 for line in file if line.startswith("Pss:"))
            with open(f"/proc/{p}/task/{p}/children") as file:
                todo += [int(c) for c in file.read().split()]
        except (FileNotFoundError, StopIteration, ProcessLookupError, PermissionError):
            continue
    return total


def train_once(data: str, out: str, steps: int, streaming: bool, flags: list) -> dict:
    """One training run in its own process: its peak memory, rate and time to its first step."""
    command = [sys.executable, "-m", "hf_gan.training.train_gan", "--dataset_name", data, "--output_dir", out]
    command += ["--overwrite_output_dir", "--max_train_steps", str(steps), "--checkpointing_steps", str(steps)]
    command += [*flags, "--streaming" if streaming else "--no-streaming"]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    start = time.time()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    first_step = []

    def read_log():
        with open(out + ".log", "w") as log:
            for line in process.stderr:
                if "First step done" in line and not first_step:
                    first_step.append(time.time() - start)
                log.write(line)

    reader = threading.Thread(target=read_log)
    reader.start()
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_pss(process.pid))
        time.sleep(0.2)
    reader.join()
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: see {out}.log")
    with open(os.path.join(out, "train_results.json")) as file:
        results = json.load(file)
    return {
        "peak_pss_gb": peak / 1e9,
        "images_per_s": steps * flags_value(flags, "--train_batch_size") / (results["train_minutes"] * 60),
        "first_step_s": first_step[0],
        "total_s": time.time() - start,
    }


def flags_value(flags: list, name: str) -> int:
    return int(flags[flags.index(name) + 1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["synthesise", "run"])
    parser.add_argument(
        "--data_dir",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "streaming_data"),
        help="where the shards are written once and read by every run (default: benchmarks/streaming_data, ignored "
        "by git)",
    )
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each size and path (medians are printed)")
    parser.add_argument("--train_batch_size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=16, help="--generator_channels and --discriminator_channels")
    parser.add_argument("--dataloader_num_workers", type=int, default=1)
    parser.add_argument(
        "--in_memory_max_gb", type=float, default=4.0, help="sizes whose uint8 tensor exceeds this are streamed only"
    )
    args = parser.parse_args()
    if args.phase == "synthesise":
        synthesise(args.data_dir, args.sizes)
        return
    flags = ["--model", "gan", "--train_batch_size", str(args.train_batch_size), "--num_threads", "1"]
    flags += ["--generator_channels", str(args.channels), "--discriminator_channels", str(args.channels)]
    flags += [
        "--logging_steps",
        "10",
        "--sample_every",
        "0",
        "--dataloader_num_workers",
        str(args.dataloader_num_workers),
    ]
    rows = []
    for name in args.sizes:
        data = os.path.join(args.data_dir, name)
        fits = SIZES[name] * 3 * 64 * 64 / 1e9 <= args.in_memory_max_gb
        for repeat in range(args.repeats):
            modes = ["streaming", "in-memory"] if fits else ["streaming"]
            for mode in modes[::-1] if repeat % 2 else modes:  # alternated: the machine's load drifts
                out = os.path.join(args.data_dir, "runs", f"{name}-{mode}")
                result = train_once(data, out, args.steps, mode == "streaming", flags)
                rows.append((name, mode, result))
                print(json.dumps({"size": name, "mode": mode, "repeat": repeat, **result}), flush=True)
    print(
        "\n| images | path | runs | peak memory (PSS, GB) | images/s | streaming/in-memory | time to first step (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in args.sizes:
        rates = {}
        for mode in ("streaming", "in-memory"):
            runs = [r for n, m, r in rows if n == name and m == mode]
            if not runs:
                continue
            rates[mode] = statistics.median(r["images_per_s"] for r in runs)
            ratio = f"{rates['streaming'] / rates[mode]:.2f}" if mode == "in-memory" else ""
            print(
                f"| {name} | {mode} | {len(runs)} | {max(r['peak_pss_gb'] for r in runs):.3f} | {rates[mode]:.0f} | "
                f"{ratio} | {max(r['first_step_s'] for r in runs):.1f} |"
            )


if __name__ == "__main__":
    main()
