"""The wheel holds every file the package reads at run time: a data file left out of pyproject's package-data would
only show up as a crash in a non-editable install."""

import os
import shutil
import subprocess
import sys
import zipfile


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def package_files() -> set[str]:
    """Every file under hf_gan/ in the source tree (code and data), as paths inside a wheel."""
    found = set()
    for folder, dirs, names in os.walk(os.path.join(ROOT, "hf_gan")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found |= {
            os.path.relpath(os.path.join(folder, n), ROOT).replace(os.sep, "/")
            for n in names
            if not n.endswith(".pyc")
        }
    return found


def build_wheel(tmp_path) -> str:
    """The wheel CI built (HF_GAN_WHEEL), or one built here from a copy of the package's sources."""
    if os.environ.get("HF_GAN_WHEEL"):
        return os.environ["HF_GAN_WHEEL"]
    source = tmp_path / "source"
    shutil.copytree(os.path.join(ROOT, "hf_gan"), source / "hf_gan", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source / name)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    return str(wheel)


def test_the_wheel_holds_every_file_of_the_package(tmp_path):
    expected = package_files()
    # the files the package reads at run time, so that the walk above cannot silently miss them
    assert {
        "hf_gan/metrics/mnist_classifier/config.json",
        "hf_gan/metrics/mnist_classifier/diffusion_pytorch_model.safetensors",
        "hf_gan/templates/model_card.md",
        "hf_gan/training/configs/mnist_cgan.yaml",
        "hf_gan/training/configs/mnist_gan.yaml",
        "hf_gan/training/configs/mnist_autoencoder.yaml",
    } <= expected
    with zipfile.ZipFile(build_wheel(tmp_path)) as wheel:
        in_wheel = {name for name in wheel.namelist() if name.startswith("hf_gan/")}
        entry_points = next(wheel.read(n).decode() for n in wheel.namelist() if n.endswith("entry_points.txt"))
    missing = sorted(expected - in_wheel)
    assert not missing, (
        f"files of hf_gan/ missing from the wheel (add them to package-data in pyproject.toml): {missing}"
    )
    assert "hf-gan = hf_gan.cli:main" in entry_points
