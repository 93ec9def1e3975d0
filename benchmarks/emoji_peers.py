"""Peers side by side on the Twemoji set (64x64 RGB, nine categories): the project's DCGAN recipe (today's
cifar10_cgan settings at 64 px) and the emoji_cgan recipe (residual G and D with DiffAugment), trained at the same
time on this machine, each for the same wall-clock minutes of training steps (--max_train_minutes; both with a
constant learning rate, since neither knows in advance how many steps it will get), and scored by the same code
(hf_gan.metrics.evaluate_pipeline): Inception FID and KID against the 757 real images of the set's stratified 20 %
test split (all 3,781 would take hours of Inception on this shared 2-core CPU), class-conditional accuracy and the
predicted-class histogram by a classifier trained on the other 80 % (training/train_classifier.py), beside its
accuracy on that test split, and the copying check against all 3,781 training images.

    python training/make_emoji_dataset.py --package emoji-datasource-twitter-16.0.0.tgz --output_dir emoji
    python training/make_emoji_dataset.py --package emoji-datasource-twitter-16.0.0.tgz \\
        --output_dir emoji-split --eval_fraction 0.2
    python training/train_classifier.py --dataset_name emoji-split --num_channels 3 --epochs 40 --batch_size 32 \\
        --lr 1e-3 --output_dir emoji-classifier
    python benchmarks/emoji_peers.py --dataset emoji --classifier emoji-classifier \\
        --split_dataset emoji-split --minutes 45 --work_dir peers

`--recipes dcgan,resnet,resnet-noaug` adds a third run beside them: the residual recipe without DiffAugment, to see
what the augmentation costs or gains at the same minutes; `resnet-noaug-half` halves that one's widths. A run whose
folder already holds a finished pipeline is scored, not retrained (rerun to score again). lightweight-gan
(lucidrains) imports only with CUDA: it joins the table on a GPU machine, not on this CPU.
"""

import argparse
import json
import os
import platform
import subprocess
import sys

import torch


RECIPES = {  # folder name: (table row, flags)
    # the DCGAN recipe: cifar10_cgan (= mnist_cgan's settings) at 64 px
    "dcgan": (
        "dcgan (cifar10_cgan @ 64 px)",
        ["--config", "cifar10_cgan", "--resolution", "64", "--num_channels", "3"],
    ),
    "resnet": ("resnet + DiffAugment (emoji_cgan)", ["--config", "emoji_cgan"]),
    # an ablation: is the augmentation what holds the residual recipe back at a CPU's few hundred steps?
    "resnet-noaug": (
        "resnet, no DiffAugment (emoji_cgan --diffaugment '')",
        ["--config", "emoji_cgan", "--diffaugment", ""],
    ),
    # and with networks of half the width (a quarter of the FLOPs: more steps in the same minutes)
    "resnet-noaug-half": (
        "resnet, no DiffAugment, half width (16 channels)",
        [
            "--config",
            "emoji_cgan",
            "--diffaugment",
            "",
            "--generator_channels",
            "16",
            "--discriminator_channels",
            "16",
        ],
    ),
}


def train(folder, flags, args):
    out = os.path.join(args.work_dir, folder)
    if os.path.isfile(os.path.join(out, "train_results.json")):
        return out, None
    command = [
        sys.executable,
        "-m",
        "hf_gan.training.train_gan",
        *flags,
        "--dataset_name",
        args.dataset,
        "--output_dir",
        out,
        "--max_train_steps",
        "1000000",
        "--lr_decay_steps",
        "0",
        "--max_train_minutes",
        str(args.minutes),
        "--num_threads",
        str(args.num_threads),
        "--logging_steps",
        "10",
        "--checkpointing_steps",
        "1000",
        "--sample_every",
        "500",
        "--seed",
        str(args.seed),
        # every recipe's EMA generator is sampled and saved with BatchNorm statistics of its own weights
        "--standing_statistics_batches",
        "16",
    ]
    os.makedirs(args.work_dir, exist_ok=True)
    log = open(os.path.join(args.work_dir, f"{folder}.log"), "w")
    return out, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def score(out, args, classifier):
    """FID, KID and the class metrics against the held-out split, and the copying check against every image the GAN
    was trained on, of 500 samples drawn the same way (seed, the set's class proportions) from the pipeline `out`."""
    from hf_gan.metrics import evaluate_pipeline

    common = dict(num_samples=args.num_samples, num_real=0, seed=args.seed)  # num_real=0: all of them
    scores = evaluate_pipeline(
        out, args.split_dataset, ["fid", "kid", "classifier"], classifier, "test", "train", **common
    )
    copying = evaluate_pipeline(out, args.dataset, ["copying"], split="train", reference_split="train", **common)
    scores.update({k: v for k, v in copying.items() if k.startswith("copying")})
    scores["protocol"] += f"; {copying['protocol'].split('; ')[-1]}"
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="the emoji image folder (training/make_emoji_dataset.py)")
    parser.add_argument(
        "--split_dataset",
        required=True,
        help="the same images in train/ and test/ (make_emoji_dataset --eval_fraction)",
    )
    parser.add_argument("--classifier", required=True, help="a classifier trained on the set (train_classifier.py)")
    parser.add_argument("--minutes", type=float, default=25.0, help="wall-clock minutes of training steps per recipe")
    parser.add_argument("--work_dir", default="outputs/emoji-peers")
    parser.add_argument("--num_samples", type=int, default=500, help="samples per model")
    parser.add_argument("--num_threads", type=int, default=1, help="torch threads per training run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--recipes", default="dcgan,resnet", help=f"which of {', '.join(RECIPES)} to train side by side"
    )
    args = parser.parse_args()
    unknown = set(args.recipes.split(",")) - set(RECIPES)
    if unknown:
        parser.error(f"--recipes: {sorted(unknown)} not among {', '.join(RECIPES)}")

    # all train at the same time
    runs = {RECIPES[f][0]: (f, *train(f, RECIPES[f][1], args)) for f in args.recipes.split(",")}
    for name, (folder, out, process) in runs.items():
        if process is not None and process.wait() != 0:
            sys.exit(f"{name} failed: see {os.path.join(args.work_dir, folder + '.log')}")

    from hf_gan.metrics import load_classifier

    torch.set_num_threads(2)  # scoring: Inception at 6 GFLOP an image
    classifier = load_classifier(args.classifier)
    rows = []
    for name, (folder, out, _) in runs.items():
        with open(os.path.join(out, "train_results.json"), encoding="utf-8") as file:
            results = json.load(file)
        scores = score(out, args, classifier)
        rows.append((name, folder, scores, results))
        print(name, json.dumps(scores), flush=True)

    with open(os.path.join(args.work_dir, "scores.json"), "w", encoding="utf-8") as file:
        json.dump({folder: {**s, **r} for _, folder, s, r in rows}, file, indent=2)
    names = list(classifier.config.label_names)
    machine = (
        f"{os.cpu_count()}-core CPU ({platform.machine()}), no GPU, shared; {args.num_threads} torch thread per run"
    )
    first = rows[0][2]
    print(f"\n{first['protocol']}; {machine}")
    held_out = first["classifier_accuracy_on_real"]
    print(
        f"classifier on the {first['num_real']} held-out real emoji: accuracy {held_out:.1%}, histogram max gap "
        f"{first['histogram_max_deviation_pp_on_real']:.1f} pts (what the real images score: the floor)"
    )
    print("| recipe | FID | KID | class accuracy | histogram max gap | copying ratio | steps | minutes |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _, s, results in rows:
        print(
            f"| {name} | {s['fid']:.1f} | {s['kid']:.4f} ± {s['kid_std']:.4f} | {s['class_accuracy']:.1%} | "
            f"{s['histogram_max_deviation_pp']:.1f} pts | {s['copying_ratio']:.2f} | {results['steps']} | "
            f"{results['train_minutes']:.1f} |"
        )
    print("predicted-class histogram (% of samples) of each recipe, then of the asked labels:")
    print("  " + " | ".join(names))
    for name, _, s, _ in rows:
        print(f"  {name}: " + " | ".join(f"{100 * h:.1f}" for h in s["class_histogram"]))
    print("  asked: " + " | ".join(f"{100 * h:.1f}" for h in first["target_histogram"]))


if __name__ == "__main__":
    main()
