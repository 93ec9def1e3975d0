#!/usr/bin/env bash
# Rebuilds model_zoo/: trains the three MNIST presets, keeps only the pipelines (no checkpoints), then measures them
# on 10,000 samples and writes the figures into their cards. The two GANs train side by side, one thread each, as the
# shipped ones were: about two hours in all on a 2-core CPU (the 14,000-step InfoGAN takes the longest).
#   bash training/build_zoo.sh            (from the repository root, MNIST in ../shared/data/mnist)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
train() {  # train SCRIPT PRESET NAME [FLAGS...]
  rm -rf "model_zoo/$3"
  "$PY" "training/$1" --config "training/configs/$2.yaml" --output_dir "model_zoo/$3" --checkpointing_steps 100000 --sample_every 0 "${@:4}"
  rm -rf "model_zoo/$3"/checkpoint-* "model_zoo/$3/logs" "model_zoo/$3/samples"
}
# The zoo's cGAN drops the preset's AC-GAN term, which makes accuracy rise faster (time to quality) but digits more
# prototypical than real ones, and trains longer with the learning rates decaying over the second half (README).
train train_gan.py mnist_cgan mnist-cgan --num_threads 1 --class_loss_weight 0 --max_train_steps 6000 --lr_decay_steps 3000 & cgan=$!
train train_gan.py mnist_gan mnist-gan --num_threads 1 & gan=$!
wait "$cgan"; wait "$gan"  # a bare `wait` returns 0 even when a run failed
train train_autoencoder.py mnist_autoencoder mnist-autoencoder
"$PY" benchmarks/zoo_quality.py --update_card --metrics fid,kid,classifier
