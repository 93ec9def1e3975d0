"""The README's quick start runs as written (its first snippet is tests/test_zoo.py's), and its links resolve."""

import os
import re
import subprocess
import sys


ROOT = os.path.join(os.path.dirname(__file__), "..")
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def test_quick_start_snippet_runs_as_written(tmp_path):
    snippets = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    snippet = next(s for s in snippets if "GANPipeline.from_pretrained" in s and "interpolate" in s)
    os.symlink(os.path.abspath(os.path.join(ROOT, "model_zoo")), tmp_path / "model_zoo")
    check = "\nassert len(digits) == 8 and len(walk) == 8 and sevens.shape == (4, 28, 28, 1)\n"
    result = subprocess.run(
        [sys.executable, "-c", snippet + check],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_readme_links_resolve():
    """The docs build (.ci/docs.sh) checks the site's links; the README is not part of it."""
    targets = re.findall(r"\]\(([^)\s]+)\)", README)
    local = [t.split("#")[0] for t in targets if not t.startswith(("http://", "https://"))]
    missing = [t for t in local if t and not os.path.exists(os.path.join(ROOT, t))]
    assert local and not missing, f"README.md links to files that do not exist: {missing}"
