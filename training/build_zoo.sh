#!/usr/bin/env bash
# Rebuilds model_zoo/: trains the MNIST presets one after another, keeps only the pipelines (no checkpoints),
# then measures them on 10,000 samples and writes the figures into their cards. On a 2-core CPU the 14,000-step cGAN
# takes about two hours (the shipped one: 116 minutes on one thread, beside another run) and the 24,000-step,
# 64-channel GAN about five hours (169 images/s measured there; the shipped one: 3.7 minutes of steps on an H100 with
# --cuda_graph, beside another run); the README's main command trains the shorter mnist_cgan recipe instead (about 10
# minutes); each restorer (mnist-superres, -restore, -inpaint) took 14 to 22 minutes of steps on one thread, the
# 5,000-step mnist-denoise 39, beside other jobs.
#   bash training/build_zoo.sh            (MNIST idx files in ../shared/data/mnist, or MNIST=path/to/them)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
MNIST=${MNIST:-../shared/data/mnist}
train() {  # train MODULE PRESET NAME [FLAGS...]
  rm -rf "model_zoo/$3"
  "$PY" -m "hf_gan.training.$1" --config "$2" --dataset_name "$MNIST" --hub_dataset_id ylecun/mnist \
    --output_dir "model_zoo/$3" --checkpointing_steps 100000 --sample_every 0 "${@:4}"
  rm -rf "model_zoo/$3"/checkpoint-* "model_zoo/$3/logs" "model_zoo/$3/samples"
}
train train_gan mnist_cgan_long mnist-cgan
train train_gan mnist_gan mnist-gan
train train_autoencoder mnist_autoencoder mnist-autoencoder
train train_gan mnist_superres mnist-superres
train train_gan mnist_restore mnist-restore
train train_gan mnist_inpaint mnist-inpaint
train train_gan mnist_denoise mnist-denoise
"$PY" benchmarks/zoo_quality.py --update_card --metrics fid,kid,classifier
"$PY" benchmarks/restoration.py --update_cards --figures docs/images --results restoration_results.json
