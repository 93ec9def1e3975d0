#!/usr/bin/env bash
# Builds model_zoo/emoji-cgan from the emoji_cgan run of benchmarks/emoji_peers.py (its `resnet` folder, trained on
# this project's shared 2-core CPU for the benchmark's minutes): the pipeline without checkpoints and without the
# discriminator (so the folder stays a few MB; fine-tune from the benchmark's run folder instead), the card's
# interpolation, the benchmark's figures in the card, and the Twemoji attribution.
#   bash training/build_emoji_zoo.sh /work/data/peers     (the benchmark's --work_dir)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PEERS=${1:?the --work_dir of benchmarks/emoji_peers.py}
ZOO=model_zoo/emoji-cgan
rm -rf "$ZOO"
"$PY" - "$PEERS/resnet" "$ZOO" <<'EOF'
import sys
from hf_gan import ConditionalGANPipeline
ConditionalGANPipeline.from_pretrained(sys.argv[1], discriminator=None).save_pretrained(sys.argv[2])
EOF
for f in samples.png training_args.json train_results.json; do cp "$PEERS/resnet/$f" "$ZOO/"; done
"$PY" -m hf_gan.cli generate "$ZOO" --interpolate 0 1 --labels "Smileys & Emotion" --frames 8 --scale 2 \
  --output "$ZOO/interpolation.gif"
"$PY" - "$PEERS" "$ZOO" <<'EOF'
import json, os, sys
import torch
from hf_gan.model_card import update_card_metrics, write_model_card
from hf_gan.training.utils import hardware
peers, zoo = sys.argv[1:]
# the card, written anew by today's code, for the zoo folder rather than the benchmark's run folder
args = json.load(open(os.path.join(zoo, "training_args.json")))
torch.set_num_threads(args["num_threads"])  # what the run trained with, for the card's training cost
write_model_card(zoo, "cgan", zoo, args["dataset_name"], args, json.load(open(os.path.join(zoo, "train_results.json"))),
                 hardware=hardware() + ", shared", training_command="accelerate launch -m hf_gan.training.train_gan")
scores = json.load(open(os.path.join(peers, "scores.json")))["resnet"]
keys = ("fid", "kid", "class_accuracy", "classifier_accuracy_on_real", "histogram_max_deviation_pp",
        "classes_present", "copying_ratio", "precision", "recall", "fld")
card = os.path.join(zoo, "README.md")
update_card_metrics(card, {k: scores[k] for k in keys}, scores["protocol"] + ". Printed by `python "
                    "benchmarks/emoji_peers.py` (docs/colour.md has the command and the peer table).", "twemoji",
                    "twemoji", dataset_split="test")
text = open(card, encoding="utf-8").read()
extra = (
    "\n## Emoji\n\nCategory-conditional: `pipe(class_labels=[\"Flags\", \"Food & Drink\"])`, the nine categories of "
    "emoji.json (`pipe.id2label`). `samples.png` has one row per category. Interpolation between the latents of "
    "seeds 0 and 1 for `Smileys & Emotion` (`hf-gan generate model_zoo/emoji-cgan --interpolate 0 1 --labels "
    "\"Smileys & Emotion\" --frames 8 --scale 2 --output interpolation.gif`):\n\n"
    "![interpolation](interpolation.png)\n\n"
    "Trained for a fixed number of wall-clock minutes on a shared 2-core CPU (see the training section): an early "
    "model, far from what the recipe gives with GPU hours.\n\n"
    "Training images: Twemoji by Twitter, Inc. and other contributors, licensed CC-BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/), from the npm package emoji-datasource-twitter 16.0.0 "
    "(iamcal/emoji-data), converted by `training/make_emoji_dataset.py`.\n"
)
text = text.replace("; the discriminator is kept in the repository so training can resume or fine-tune from it.",
                    ". The discriminator is left out here, to keep the folder small (the benchmark's run folder has it).")
open(card, "w", encoding="utf-8").write(text.replace("\n## Limitations", extra + "\n## Limitations", 1))
EOF
du -sh "$ZOO"
