"""The README's snippets run as written, from a scratch folder that sees the zoo (so the repository stays clean),
and its links resolve."""

import os
import re
import subprocess
import sys


ROOT = os.path.join(os.path.dirname(__file__), "..")
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)


def run_snippet(code: str, folder) -> None:
    """Runs `code` in `folder` as a user would from the repository root: model_zoo/ resolves, nothing is downloaded."""
    os.symlink(os.path.abspath(os.path.join(ROOT, "model_zoo")), folder / "model_zoo")
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_first_snippet_runs_as_written(tmp_path):
    assert "ConditionalGANPipeline.from_pretrained" in SNIPPETS[0]
    run_snippet(SNIPPETS[0], tmp_path)
    assert (tmp_path / "three.png").stat().st_size > 0


def test_quick_start_snippet_runs_as_written(tmp_path):
    snippet = next(s for s in SNIPPETS if "GANPipeline.from_pretrained" in s and "interpolate" in s)
    run_snippet(
        snippet + "\nassert len(digits) == 8 and len(walk) == 8 and sevens.shape == (4, 28, 28, 1)\n", tmp_path
    )


def test_readme_links_resolve():
    """The docs build (.ci/docs.sh) checks the site's links; the README is not part of it."""
    targets = re.findall(r"\]\(([^)\s]+)\)", README)
    local = [t.split("#")[0] for t in targets if not t.startswith(("http://", "https://"))]
    missing = [t for t in local if t and not os.path.exists(os.path.join(ROOT, t))]
    assert local and not missing, f"README.md links to files that do not exist: {missing}"
