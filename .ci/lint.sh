#!/usr/bin/env bash
# Lint: ruff's checks (pyproject.toml [tool.ruff]) and the formatter in check mode; neither changes a file.
# Fix with `.venv/bin/ruff check --fix . && .venv/bin/ruff format .`
set -euo pipefail
cd "$(dirname "$0")/.."
RUFF=${RUFF:-.venv/bin/ruff}
status=0
"$RUFF" check . || status=1
"$RUFF" format --check . || status=1
exit $status
