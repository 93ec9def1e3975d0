#!/usr/bin/env bash
# The package as users get it: builds the sdist and the wheel (from the sdist), installs the wheel (not editable) into
# a fresh virtual environment, and from a folder outside the checkout runs the README's snippet on a zoo model,
# `hf-gan evaluate`, and a 20-step training run that must write a complete pipeline folder with its card.
#   bash .ci/wheel_smoke.sh        (after .ci/setup; MNIST idx files in ../shared/data/mnist, or MNIST=path)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MNIST=$(realpath "${MNIST:-../shared/data/mnist}")
START=$SECONDS
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

.venv/bin/python -m build --outdir "$WORK/dist" . > "$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }
# pip's own route (`pip wheel .`: an isolated build with the newest hatchling) must build it too, with the same files
.venv/bin/python -m pip wheel --no-deps --wheel-dir "$WORK/pip" . > "$WORK/pip.log" 2>&1 || { tail -30 "$WORK/pip.log"; exit 1; }
.venv/bin/python - "$WORK"/pip/*.whl "$WORK"/dist/*.whl <<'PYTHON'
import sys, zipfile
pip_files, build_files = (set(zipfile.ZipFile(path).namelist()) for path in sys.argv[1:])
assert pip_files == build_files, f"pip wheel . and python -m build differ: {sorted(pip_files ^ build_files)}"
PYTHON
python3 -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
"$PY" -m pip install --quiet "torch==2.13.0"
"$PY" -m pip install --quiet -c .ci/constraints.txt "$WORK"/dist/*.whl
cd "$WORK"  # nothing of the checkout is importable from here
"$PY" -c "import hf_gan, sys; assert '$ROOT' not in hf_gan.__file__, hf_gan.__file__; print('hf_gan from', hf_gan.__file__)"

# the README's Python snippet, on the zoo model given by its absolute path
"$PY" - "$ROOT/README.md" "$ROOT" <<'PYTHON'
import re, sys
readme, root = sys.argv[1], sys.argv[2]
snippet = re.search(r"```python\n(.*?)```", open(readme, encoding="utf-8").read(), re.DOTALL).group(1)
exec(snippet.replace('"model_zoo/', f'"{root}/model_zoo/'))
PYTHON
test -s three.png

"$WORK/venv/bin/hf-gan" evaluate "$ROOT/model_zoo/mnist-cgan" --dataset "$MNIST" --num_samples 300 --output eval.json
test -s eval.json

"$WORK/venv/bin/accelerate" launch --num_processes 1 --num_machines 1 --mixed_precision no --dynamo_backend no \
  -m hf_gan.training.train_gan --config mnist_cgan --dataset_name "$MNIST" --max_train_steps 20 --output_dir out \
  2>&1 | tee train.log | grep -v "steps:" || true
test "${PIPESTATUS[0]}" -eq 0 || { tail -30 train.log; exit 1; }
if grep -q "were not passed to \`accelerate launch\`" train.log; then echo "accelerate's defaults notice is back"; exit 1; fi
for file in model_index.json generator/config.json generator/diffusion_pytorch_model.safetensors \
            discriminator/diffusion_pytorch_model.safetensors README.md samples.png training_args.json; do
  test -s "out/$file" || { echo "the training run did not write out/$file"; exit 1; }
done
grep -q "ConditionalGANPipeline.from_pretrained" out/README.md
"$WORK/venv/bin/hf-gan" train autoencoder --config mnist_autoencoder --dataset_name "$MNIST" --max_train_samples 512 \
  --max_train_steps 5 --output_dir ae > ae.log 2>&1 || { tail -30 ae.log; exit 1; }
"$PY" -c "from hf_gan import AutoencoderPipeline, ConditionalGANPipeline; ConditionalGANPipeline.from_pretrained('out'); AutoencoderPipeline.from_pretrained('ae')"
echo "wheel smoke test passed in $((SECONDS - START)) s ($(basename "$WORK"/dist/*.whl))"
