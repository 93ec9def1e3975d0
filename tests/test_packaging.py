"""The wheel holds every file the package reads at run time: a data file left out of the wheel would only show up as
a crash in a non-editable install. Building it writes nothing into the sources: a read-only checkout must build, and
nothing left over from an earlier build may ship."""

import os
import shutil
import subprocess
import sys
import zipfile


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def files_under(top: str, folder: str) -> set[str]:
    """Every file under `top`/`folder` (code and data), as paths relative to `top`, the way a wheel names them."""
    found = set()
    for parent, dirs, names in os.walk(os.path.join(top, folder)):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found |= {
            os.path.relpath(os.path.join(parent, n), top).replace(os.sep, "/") for n in names if not n.endswith(".pyc")
        }
    return found


def copy_sources(tmp_path) -> str:
    """What builds the wheel, copied out of the checkout."""
    source = tmp_path / "source"
    shutil.copytree(os.path.join(ROOT, "hf_gan"), source / "hf_gan", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(os.path.join(ROOT, name), source / name)
    return str(source)


def build(source: str, outdir: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", outdir, source],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = (name for name in os.listdir(outdir) if name.endswith(".whl"))
    return os.path.join(outdir, wheel)


def build_wheel(tmp_path) -> str:
    """The wheel CI built (HF_GAN_WHEEL), or one built here from a copy of the package's sources."""
    return os.environ.get("HF_GAN_WHEEL") or build(copy_sources(tmp_path), str(tmp_path / "dist"))


def test_the_wheel_holds_every_file_of_the_package(tmp_path):
    expected = files_under(ROOT, "hf_gan")
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


def test_building_the_wheel_writes_nothing_into_the_sources(tmp_path):
    source = copy_sources(tmp_path)
    before = files_under(source, ".")
    build(source, str(tmp_path / "dist"))
    assert files_under(source, ".") == before, f"the build wrote {sorted(files_under(source, '.') - before)}"
