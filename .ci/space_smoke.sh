#!/usr/bin/env bash
# The Space as a user deploys it: `hf-gan demo model_zoo/mnist-cgan --export`, then, in a fresh virtual environment,
# `pip install -r requirements.txt` (exactly the exported pins, nothing else: hf_gan itself is the copy inside the
# Space), `python app.py` as a Space starts it, and an image generated through gradio_client, checked against the
# Space's own pipeline for the same class and seed.
#   bash .ci/space_smoke.sh        (after .ci/setup)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d)
APP_PID=
trap '[ -z "$APP_PID" ] || kill "$APP_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

.venv/bin/hf-gan demo model_zoo/mnist-cgan --export "$WORK/space" --scale 2
unset PYTHONPATH  # the fresh environment sees only what the Space holds
python3 -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
# --retries 0: a machine without internet (CI here) gets torch from its local index at once, not after retrying
# the requirements' download.pytorch.org index; --no-compile: only the modules the app imports get bytecode
started=$SECONDS
"$PY" -m pip install --quiet --retries 0 --no-compile -r "$WORK/space/requirements.txt"
echo "installed the Space's requirements in $((SECONDS - started)) s"
started=$SECONDS

cd "$WORK/space"  # what a Space runs: app.py in its folder, nothing of the checkout importable
PORT=$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
GRADIO_SERVER_PORT=$PORT GRADIO_ANALYTICS_ENABLED=False "$PY" app.py > "$WORK/app.log" 2>&1 &
APP_PID=$!
"$PY" - "$PORT" "$ROOT" <<'PYTHON' || { tail -30 "$WORK/app.log"; exit 1; }
import sys, time

import numpy as np, PIL.Image, torch
from gradio_client import Client

port, root = sys.argv[1], sys.argv[2]
for _ in range(120):  # Gradio and torch take a while to import
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        break
    except Exception:
        time.sleep(1)
else:
    sys.exit("app.py did not serve within 120 s")
gallery = client.predict(3, 2, 0.7, "3", api_name="/generate")  # seed 3, two images, truncation 0.7, class "3"
shown = np.asarray(PIL.Image.open(gallery[1]["image"]).convert("L"))

import hf_gan  # the Space's copy, from the working folder

assert root not in hf_gan.__file__, hf_gan.__file__
pipe = hf_gan.HfGanPipeline.from_pretrained("model")
expected = pipe(class_labels=["3"], generator=torch.Generator().manual_seed(4), truncation=0.7).images[0]
assert shown.shape == (56, 56), shown.shape
assert np.array_equal(shown[::2, ::2], np.asarray(expected.convert("L"))), "the Space's image is not the pipeline's"
print(f"the Space served {gallery[1]['caption']!r}: the pipeline's image; torch {torch.__version__}")
PYTHON
echo "started app.py and generated through gradio_client in $((SECONDS - started)) s"
