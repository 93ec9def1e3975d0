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
# [build-system]'s requirements exactly as declared, each at its lowest version: an undeclared build requirement, or
# one that its lowest version does not meet, fails the wheel's build below and tests/test_packaging.py's
BUILD_LOWEST=$(.venv-lowest/bin/python -c '
try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib
print(" ".join(r.replace(">=", "==") for r in tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')
.venv-lowest/bin/python -m pip install --quiet -c .ci/constraints-lowest.txt -e . pytest build $BUILD_LOWEST
.venv-lowest/bin/python -c "import diffusers, huggingface_hub, accelerate, datasets, safetensors, hf_gan.data; print('lowest: diffusers', diffusers.__version__, '| huggingface_hub', huggingface_hub.__version__, '| accelerate', accelerate.__version__, '| datasets', datasets.__version__, '| safetensors', safetensors.__version__, '| build: $BUILD_LOWEST')"
DIST=$(mktemp -d)
trap 'rm -rf "$DIST"' EXIT
.venv-lowest/bin/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$DIST" .
HF_GAN_WHEEL=$(ls "$DIST"/hf_gan-*.whl) .venv-lowest/bin/python -m pytest -p no:cacheprovider \
    tests/test_hub.py tests/test_pipelines.py tests/test_packaging.py
echo "lowest-versions run took $(( $(date +%s) - started )) s"
