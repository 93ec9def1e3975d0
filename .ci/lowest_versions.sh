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
.venv-lowest/bin/python -c "import diffusers, huggingface_hub, accelerate, datasets, safetensors, hf_gan.data; print('lowest: diffusers', diffusers.__version__, '| huggingface_hub', huggingface_hub.__version__, '| accelerate', accelerate.__version__, '| datasets', datasets.__version__, '| safetensors', safetensors.__version__)"
# The wheel built with the lowest setuptools pyproject.toml's [build-system] allows (torch needs a newer one at run
# time, so it gets a venv of its own), for tests/test_packaging.py.
BUILD=$(mktemp -d)
trap 'rm -rf "$BUILD"' EXIT
"$PYTHON" -m venv "$BUILD/venv"
# exactly what [build-system] declares, setuptools at its lowest: an undeclared build requirement fails here
"$BUILD/venv/bin/python" -m pip install --quiet "setuptools==61.0.0" $("$BUILD/venv/bin/python" -c '
try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib
requires = tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]
print(" ".join(r for r in requires if not r.startswith("setuptools")))')
"$BUILD/venv/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$BUILD/dist" .
HF_GAN_WHEEL=$(ls "$BUILD"/dist/hf_gan-*.whl) .venv-lowest/bin/python -m pytest -p no:cacheprovider \
    tests/test_hub.py tests/test_pipelines.py tests/test_packaging.py
echo "lowest-versions run took $(( $(date +%s) - started )) s"
