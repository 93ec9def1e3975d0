"""examples/tutorial.ipynb as committed: without outputs, and reusing examples/gan_1d.py rather than a copy of it.
Executing it is a CI step of its own (.ci/notebook.sh, about a minute with HF_GAN_TUTORIAL_FAST=1)."""

import ast
import json
import os
import re


ROOT = os.path.join(os.path.dirname(__file__), "..")
NOTEBOOK = os.path.join(ROOT, "examples", "tutorial.ipynb")


def code_cells():
    with open(NOTEBOOK, encoding="utf-8") as file:
        return [cell for cell in json.load(file)["cells"] if cell["cell_type"] == "code"]


def test_committed_notebook_has_no_outputs():
    with_outputs = [i for i, cell in enumerate(code_cells()) if cell["outputs"] or cell["execution_count"] is not None]
    assert not with_outputs, (
        f"code cells {with_outputs} hold outputs: clear them before committing (Jupyter's Clear All)"
    )


def test_notebook_imports_the_1d_gan_instead_of_copying_it():
    source = "\n".join("".join(cell["source"]) for cell in code_cells())
    assert re.search(r"^import gan_1d$", source, re.MULTILINE)
    with open(os.path.join(ROOT, "examples", "gan_1d.py"), encoding="utf-8") as file:
        example = {node.name for node in ast.parse(file.read()).body if hasattr(node, "name")} | {"GRID"}
    tree = ast.parse(source)
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and getattr(n.value, "id", "") == "gan_1d"}
    assert used and used <= example, f"the notebook uses gan_1d names that examples/gan_1d.py lacks: {used - example}"
    copied = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)} & example
    assert not copied, f"the notebook defines again what examples/gan_1d.py has: {copied}"
