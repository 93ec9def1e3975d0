"""The Gradio demo, called through gradio_client like a remote user, and its export as a Hugging Face Space."""

import os
import runpy

import numpy as np
import PIL.Image
import pytest
import torch
import yaml
from conftest import make_pipeline


gradio = pytest.importorskip("gradio", reason="the demo tests need the `demo` extra: pip install -e '.[demo]'")
from gradio_client import Client  # noqa: E402
from huggingface_hub import HfApi, hf_hub_download  # noqa: E402

from hf_gan.cli import main  # noqa: E402
from hf_gan.demo import build_demo  # noqa: E402


SCALE = 3


@pytest.fixture(scope="module")
def app_url():
    """One app for the module (importing and launching Gradio is slow)."""
    demo = build_demo(make_pipeline("cgan"), scale=SCALE)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


def test_client_gets_the_pipelines_image(app_url):
    client = Client(app_url, verbose=False)
    gallery = client.predict(5, 3, 0.7, "dog", api_name="/generate")
    assert [item["caption"] for item in gallery] == ["dog · seed 5", "dog · seed 6", "dog · seed 7"]
    shown = np.asarray(PIL.Image.open(gallery[2]["image"]).convert("RGB"))
    assert shown.shape == (8 * SCALE, 8 * SCALE, 3)
    expected = make_pipeline("cgan")(
        class_labels=["dog"], generator=torch.Generator().manual_seed(7), truncation=0.7
    ).images[0]
    assert np.array_equal(shown[::SCALE, ::SCALE], np.asarray(expected))


def test_client_interpolates(app_url):
    strip, animation = Client(app_url, verbose=False).predict(0, 1, 4, 1.0, "cat", "bird", api_name="/interpolate")
    assert PIL.Image.open(strip).size == (4 * 8 * SCALE, 8 * SCALE)
    assert PIL.Image.open(animation).n_frames == 6


@pytest.fixture(scope="module")
def exported_space(tmp_path_factory):
    model = tmp_path_factory.mktemp("model")
    make_pipeline("cgan").save_pretrained(model)
    space = tmp_path_factory.mktemp("exports") / "space"
    main(["demo", str(model), "--export", str(space), "--push_space", "user/cgan-demo", "--scale", str(SCALE)])
    return space


def test_exported_space_is_pushed_with_what_a_space_needs(exported_space):
    api = HfApi()
    files = set(api.list_repo_files("user/cgan-demo", repo_type="space"))
    assert {
        "app.py",
        "requirements.txt",
        "README.md",
        "hf_gan/demo.py",
        "model/model_index.json",
        "model/generator/diffusion_pytorch_model.safetensors",
    } <= files
    assert not [name for name in files if "__pycache__" in name]
    assert api.space_info("user/cgan-demo").sdk == "gradio"
    readme = open(hf_hub_download("user/cgan-demo", "README.md", repo_type="space"), encoding="utf-8").read()
    metadata = yaml.safe_load(readme.split("---")[1])
    assert metadata["sdk"] == "gradio" and metadata["app_file"] == "app.py"
    assert metadata["sdk_version"] == gradio.__version__
    requirements = open(hf_hub_download("user/cgan-demo", "requirements.txt", repo_type="space")).read().splitlines()
    # every requirement pinned to what ran the export (.ci/space_smoke.sh installs exactly these and runs the app)
    import diffusers

    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements  # torch's CPU wheels
    pins = dict(line.split("==") for line in requirements if line and not line.startswith(("#", "--")))
    assert pins["torch"] == torch.__version__.split("+")[0] and pins["diffusers"] == diffusers.__version__
    assert pins["gradio"] == gradio.__version__
    assert {"huggingface-hub", "safetensors", "accelerate", "numpy", "pillow"} <= set(pins)


def test_exported_app_builds_the_demo_from_its_own_folder(exported_space, monkeypatch):
    """What the Space runs: app.py, with the model copied beside it and a full copy of hf_gan (not on PyPI)."""
    import hf_gan

    package = os.path.dirname(hf_gan.__file__)
    copied = {
        os.path.relpath(os.path.join(d, f), exported_space / "hf_gan")
        for d, _, fs in os.walk(exported_space / "hf_gan")
        for f in fs
    }
    shipped = {
        os.path.relpath(os.path.join(d, f), package)
        for d, _, fs in os.walk(package)
        for f in fs
        if "__pycache__" not in d
    }
    assert copied == shipped
    monkeypatch.chdir(exported_space.parent)  # the app finds its model from its own path, not the working folder
    namespace = runpy.run_path(str(exported_space / "app.py"))  # not __main__: builds the app without serving it
    assert isinstance(namespace["demo"], gradio.Blocks)


def test_export_refuses_a_folder_in_use(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit, match="exists and is not an empty folder"):
        main(["demo", "model_zoo/mnist-cgan", "--export", str(tmp_path)])
    assert os.listdir(tmp_path) == ["keep.txt"]


def test_restore_tab_shows_the_pipelines_restored_digit(tmp_path):
    """An image-to-image model's demo: a digit uploaded through the client comes back as the pipeline restores it."""
    from gradio_client import handle_file
    from test_image_to_image import make_i2i_pipeline

    pipe = make_i2i_pipeline(mask_channel=True)
    digit = PIL.Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16), dtype=np.uint8))
    digit.save(tmp_path / "digit.png")
    demo = build_demo(pipe, scale=SCALE)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True)
    try:
        editor = {"background": handle_file(str(tmp_path / "digit.png")), "layers": [], "composite": None}
        shown, restored = Client(url, verbose=False).predict(editor, "bottom half", 3, api_name="/restore")
    finally:
        demo.close()
    small = digit.resize((8, 8), PIL.Image.Resampling.BOX)
    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[4:] = 255
    expected = pipe(small, mask, generator=torch.Generator().manual_seed(3)).images[0]
    out = np.asarray(PIL.Image.open(restored).convert("L"))
    assert out.shape == (8 * SCALE, 8 * SCALE)
    assert np.array_equal(out[::SCALE, ::SCALE], np.asarray(expected))
    seen = np.asarray(PIL.Image.open(shown).convert("L"))[::SCALE, ::SCALE]
    assert (seen[4:] == 128).all() and np.array_equal(seen[:4], np.asarray(small)[:4])
