#!/usr/bin/env bash
# CI, second environment: the Hub, pipeline and packaging tests with the lowest versions pyproject.toml declares
# (.ci/constraints-lowest.txt), in .venv-lowest. The main run (.ci/run) uses the newest versions.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
PYTHON=${PYTHON:-python3}
[ -x .venv-lowest/bin/python ] || "$PYTHON" -m venv .venv-lowest
.venv-lowest/bin/python -m pip install --quiet --upgrade pip
.venv-lowest/bin/python -m pip install --quiet "torch==2.13.0"
.venv-lowest/bin/python -m pip install --quiet -c .ci/constraints-lowest.txt -e . pytest build
.venv-lowest/bin/python -m pip install --quiet -c .ci/constraints-lowest.txt setuptools wheel
.venv-lowest/bin/python -c "import diffusers, huggingface_hub, accelerate, datasets, safetensors, hf_gan.data; print('lowest: diffusers', diffusers.__version__, '| huggingface_hub', huggingface_hub.__version__, '| accelerate', accelerate.__version__, '| datasets', datasets.__version__, '| safetensors', safetensors.__version__)"
tests=(tests/test_hub.py tests/test_pipelines.py)
[ -f tests/test_packaging.py ] && tests+=(tests/test_packaging.py)
.venv-lowest/bin/python -m pytest -p no:cacheprovider "${tests[@]}"
echo "lowest-versions run took $(( $(date +%s) - started )) s"
