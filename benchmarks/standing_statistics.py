"""Standing statistics after the fact, on the same weights: saved class-conditional GANs whose EMA generator kept the
BatchNorm statistics update_ema copied from the live generator (what train_gan saved before
--standing_statistics_batches), sampled as saved and with statistics of their own weights, scored by
emoji_peers.py's code (FID, KID, class metrics, copying check).

    python benchmarks/standing_statistics.py data/noto-peers/dcgan data/noto-peers/resnet \\
        --dataset data/noto --split_dataset data/noto-split --classifier data/noto-classifier

Each FOLDER gets a FOLDER-standing copy with the statistics train_gan --standing_statistics_batches 16 would have
saved for the same weights (train_gan's sampling_copy, with the run's batch size and seed, labels drawn from the
training set's).
"""

import argparse
import json
import os
from types import SimpleNamespace

import torch
from emoji_peers import score

from hf_gan import ConditionalGANPipeline
from hf_gan.data import load_image_dataset, prepare_image_dataset
from hf_gan.metrics import load_classifier
from hf_gan.training.train_gan import sampling_copy


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", help="saved ConditionalGANPipeline folders (train_gan outputs)")
    parser.add_argument("--dataset", required=True, help="the image folder the GANs were trained on")
    parser.add_argument("--split_dataset", required=True, help="the same images in train/ and test/")
    parser.add_argument("--classifier", required=True, help="a classifier trained on the set (train_classifier.py)")
    parser.add_argument("--batches", type=int, default=16, help="as --standing_statistics_batches")
    parser.add_argument("--num_samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0, help="of the samples scored")
    args = parser.parse_args()
    torch.set_num_threads(2)
    classifier = load_classifier(args.classifier)
    data = prepare_image_dataset(load_image_dataset(args.dataset, "train"), None, None, require_labels=True)
    rows = []
    for folder in args.folders:
        with open(os.path.join(folder, "training_args.json"), encoding="utf-8") as file:
            trained = json.load(file)
        pipe = ConditionalGANPipeline.from_pretrained(folder)
        # what train_gan would have saved for these weights: its batch size and seed, with the option on
        run = SimpleNamespace(**{**trained, "standing_statistics_batches": args.batches})
        pipe.generator = sampling_copy(run, pipe.generator, data.labels)
        standing = folder.rstrip("/") + "-standing"
        pipe.save_pretrained(standing)
        for label, out in (("as saved", folder), ("standing statistics", standing)):
            scores = score(out, args, classifier)
            rows.append((folder, label, scores))
            print(folder, label, json.dumps(scores), flush=True)
    print(f"\n{rows[0][2]['protocol']}")
    print(
        "| model | BatchNorm statistics | FID | KID | class accuracy | histogram max gap | classes present | copying |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for folder, label, s in rows:
        print(
            f"| {folder} | {label} | {s['fid']:.1f} | {s['kid']:.4f} ± {s['kid_std']:.4f} | {s['class_accuracy']:.1%} "
            f"| {s['histogram_max_deviation_pp']:.1f} pts | {s['classes_present']} | {s['copying_ratio']:.2f} |"
        )


if __name__ == "__main__":
    main()
