#!/usr/bin/env bash
# The tutorial notebook, executed headless as a student would run it (nbclient, a fresh kernel, cwd examples/), with
# small step counts (HF_GAN_TUTORIAL_FAST=1; HF_GAN_TUTORIAL_FAST=0 runs it at full size). Any cell that raises fails
# the step. The executed copy goes to a temporary folder, or to HF_GAN_TUTORIAL_EXECUTED=path.ipynb to look at it:
# the committed notebook stays without outputs (tests/test_notebook.py checks that).
#   bash .ci/notebook.sh        (after .ci/setup; MNIST idx files in ../shared/data/mnist, or HF_GAN_MNIST=path)
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_GAN_TUTORIAL_FAST=${HF_GAN_TUTORIAL_FAST:-1} HF_GAN_MNIST=$(realpath "${HF_GAN_MNIST:-../shared/data/mnist}")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
.venv/bin/python - "${HF_GAN_TUTORIAL_EXECUTED:-$OUT/tutorial.ipynb}" <<'PYTHON'
import sys, time

import nbformat
from nbclient import NotebookClient

notebook = nbformat.read("examples/tutorial.ipynb", as_version=4)
started = time.perf_counter()
NotebookClient(notebook, timeout=1200, kernel_name="python3", resources={"metadata": {"path": "examples"}}).execute()
nbformat.write(notebook, sys.argv[1])
images = sum(output.get("output_type") == "display_data" and "image/png" in output.get("data", {})
             for cell in notebook.cells for output in cell.get("outputs", []))
print(f"examples/tutorial.ipynb: {len(notebook.cells)} cells, {images} figures, {time.perf_counter() - started:.0f} s")
PYTHON
