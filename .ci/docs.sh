#!/usr/bin/env bash
# The documentation site (mkdocs.yml, docs/), built offline in strict mode: a link to a missing page or heading, or an
# API reference to a name that does not exist, fails the build. `pip install -e ".[docs]"` brings mkdocs.
set -euo pipefail
cd "$(dirname "$0")/.."
SITE=$(mktemp -d)
trap 'rm -rf "$SITE"' EXIT
NO_MKDOCS_2_WARNING=1 .venv/bin/python -m mkdocs build --strict --site-dir "$SITE"
test -s "$SITE/api/index.html" && grep -q "interpolate" "$SITE/api/index.html"  # the docstrings were rendered
echo "docs: $(find "$SITE" -name index.html | wc -l) pages built"
