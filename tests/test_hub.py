"""Round trips through the real huggingface_hub client and a local Hub server over HTTP (see conftest.py), loading
with hf_gan and with plain diffusers in a process that cannot import hf_gan."""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import huggingface_hub
import pytest
import torch
from conftest import HUB_STATE, PIPELINE_CLASSES, images_pt, make_pipeline
from diffusers import UNet2DModel
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.utils import RevisionNotFoundError
from packaging import version

from hf_gan import ConditionalGANPipeline, GANPipeline, HfGanPipeline
from hf_gan.cli import publish
from hf_gan.hub import push_folder
from hf_gan.model_card import write_model_card


# Prepended to a subprocess's code: any import of hf_gan fails, as for a user who never installed it.
BLOCK_HF_GAN = """
import importlib.abc, sys
class BlockHfGan(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "hf_gan":
            raise ImportError("hf_gan is not installed here")
sys.meta_path.insert(0, BlockHfGan())
"""


def run_python(code: str, block_hf_gan: bool = False, **env) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter (so huggingface_hub reads the environment anew)."""
    code = (BLOCK_HF_GAN if block_hf_gan else "") + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def silent_hub():
    """The URL of a Hub that accepts connections and never answers (a hung or stopped server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_push_to_hub_then_from_pretrained_by_repo_id(kind):
    pipe = make_pipeline(kind)
    repo_id = f"user/tiny-{kind}"
    pipe.push_to_hub(repo_id)
    files = {f.rfilename for f in HfApi().model_info(repo_id).siblings}
    components = [name for name in pipe.component_types() if getattr(pipe, name) is not None]
    assert {"model_index.json", "hf_gan_code.py"} | {f"{c}/hf_gan_code.py" for c in components} <= files
    assert {f"{c}/diffusion_pytorch_model.safetensors" for c in components} <= files
    assert not any(f.endswith(".bin") for f in files)
    loaded = PIPELINE_CLASSES[kind].from_pretrained(repo_id)
    torch.testing.assert_close(images_pt(loaded, kind), images_pt(pipe, kind), rtol=0, atol=0)


def test_plain_diffusers_loads_pushed_repos_without_hf_gan(tmp_path):
    """A user without hf_gan loads each kind of repository with diffusers alone and gets hf_gan's images."""
    expected = {}
    for kind in ("gan", "cgan", "autoencoder"):
        pipe = make_pipeline(kind)
        pipe.push_to_hub(f"user/remote-{kind}")
        expected[kind] = images_pt(HfGanPipeline.from_pretrained(f"user/remote-{kind}"), kind)
    result = run_python(
        f"""
        import torch
        from diffusers import DiffusionPipeline
        try:
            import hf_gan
        except ImportError:
            pass
        else:
            raise SystemExit("hf_gan was importable")
        images = {{}}
        for kind in ("gan", "cgan", "autoencoder"):
            pipe = DiffusionPipeline.from_pretrained(f"user/remote-{{kind}}", trust_remote_code=True)
            if kind == "cgan":
                for labels in ([0, 1, 2], ["cat", "dog", "bird"]):
                    out = pipe(class_labels=labels, generator=torch.manual_seed(0), output_type="pt").images
                    images[f"cgan {{labels[0]}}"] = out
            else:
                images[kind] = pipe(batch_size=3, generator=torch.manual_seed(0), output_type="pt").images
            images[kind + " class"] = type(pipe).__module__ + "." + type(pipe).__name__
        torch.save(images, "{tmp_path}/remote.pt")
        """,
        block_hf_gan=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Expected types" not in result.stderr  # diffusers' component type check passed
    remote = torch.load(tmp_path / "remote.pt")
    assert remote["gan class"].endswith("hf_gan_code.GANPipeline")  # the repository's code, not hf_gan
    for key, kind in (("gan", "gan"), ("cgan 0", "cgan"), ("cgan cat", "cgan"), ("autoencoder", "autoencoder")):
        torch.testing.assert_close(remote[key], expected[kind], rtol=0, atol=0)


def test_hf_gan_loader_downloads_no_code_and_import_hf_gan_changes_nothing_in_diffusers(tmp_path):
    make_pipeline("gan").push_to_hub("user/no-code")
    start = len(HUB_STATE.requests)
    GANPipeline.from_pretrained("user/no-code", cache_dir=tmp_path)
    downloads = [r for r in HUB_STATE.requests[start:] if "/resolve/" in r]
    assert downloads and not any(r.endswith(".py") for r in downloads)
    assert not list(tmp_path.rglob("*.py"))
    # import hf_gan leaves diffusers' tables and module alone, and diffusers asks before running the repository's code
    result = run_python(
        """
        import copy, diffusers
        from diffusers.pipelines import pipeline_loading_utils as loading
        before = [
            copy.deepcopy(loading.LOADABLE_CLASSES), copy.deepcopy(loading.ALL_IMPORTABLE_CLASSES), dir(diffusers)
        ]
        import hf_gan
        print([loading.LOADABLE_CLASSES, loading.ALL_IMPORTABLE_CLASSES, dir(diffusers)] == before)
        diffusers.DiffusionPipeline.from_pretrained("user/no-code")
        """
    )
    assert result.stdout.split() == ["True"], result.stderr[-2000:]
    assert result.returncode != 0 and "trust_remote_code=True" in result.stderr


def test_pipelines_refuse_foreign_components_whoever_builds_them(tmp_path):
    unet = UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(4, 4),
        norm_num_groups=2,
        layers_per_block=1,
        down_block_types=("DownBlock2D",) * 2,
        up_block_types=("UpBlock2D",) * 2,
    )
    with pytest.raises(
        TypeError, match="generator must be a DCGANGenerator or ResNetGenerator, got diffusers.*UNet2DModel"
    ):
        ConditionalGANPipeline(unet)
    # issue 13: model_index.json naming a diffusers model for the generator, loaded by diffusers' own loader
    make_pipeline("cgan").save_pretrained(tmp_path)
    shutil.rmtree(tmp_path / "generator")
    unet.save_pretrained(tmp_path / "generator")
    index = json.loads((tmp_path / "model_index.json").read_text())
    index["generator"] = ["diffusers", "UNet2DModel"]
    (tmp_path / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="declares component 'generator' as .*UNet2DModel"):
        HfGanPipeline.from_pretrained(tmp_path)
    result = run_python(
        f"""
        import diffusers
        diffusers.DiffusionPipeline.from_pretrained("{tmp_path}", trust_remote_code=True)
        """,
        block_hf_gan=True,
    )
    assert result.returncode != 0
    assert "TypeError: ConditionalGANPipeline's generator must be a DCGANGenerator" in result.stderr


def test_older_format_and_missing_optional_discriminator_still_load(tmp_path):
    pipe = make_pipeline("gan")
    pipe.save_pretrained(tmp_path)
    # as hf_gan wrote folders before they carried code: ["hf_gan", "<class>"] and a plain class name
    index = json.loads((tmp_path / "model_index.json").read_text())
    index.update(
        _class_name="GANPipeline",
        generator=["hf_gan", "DCGANGenerator"],
        discriminator=["hf_gan", "DCGANDiscriminator"],
    )
    (tmp_path / "model_index.json").write_text(json.dumps(index))
    for code in tmp_path.rglob("hf_gan_code.py"):
        code.unlink()
    torch.testing.assert_close(
        images_pt(GANPipeline.from_pretrained(tmp_path), "gan"), images_pt(pipe, "gan"), rtol=0, atol=0
    )
    shutil.rmtree(tmp_path / "discriminator")  # issue 12b: the optional discriminator deleted by hand
    loaded = GANPipeline.from_pretrained(tmp_path)
    assert loaded.discriminator is None
    torch.testing.assert_close(images_pt(loaded, "gan"), images_pt(pipe, "gan"), rtol=0, atol=0)


def test_a_missing_folder_is_named_as_such_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    with pytest.raises(OSError, match=r"No folder '\./model_zoo/mnist-cgan' exists \(looked for "):
        ConditionalGANPipeline.from_pretrained("./model_zoo/mnist-cgan")
    # a name that could be a repo id: the Hub was asked too, and the error says both
    with pytest.raises(OSError, match=r"No folder 'model_zoo/mnist-cgan' exists here .* has no repository"):
        ConditionalGANPipeline.from_pretrained("model_zoo/mnist-cgan")
    assert time.perf_counter() - started < 2


def test_unreachable_hub_fails_within_seconds_with_clear_errors(silent_hub, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model_index.json").write_text("{}")
    result = run_python(
        f"""
        import time, hf_gan
        from hf_gan.cli import publish
        from hf_gan.hub import push_folder
        for call in (lambda: hf_gan.GANPipeline.from_pretrained("someone/never-downloaded"),
                     lambda: push_folder("{tmp_path}/model", "someone/pushed"),
                     lambda: publish(["{tmp_path}/model"], repo_id="someone/published")):
            started = time.perf_counter()
            try:
                call()
            except Exception as error:
                print(f"{{time.perf_counter() - started:.1f}} {{type(error).__name__}}: {{error}}".replace("\\n", " "))
        """,
        HF_ENDPOINT=silent_hub,
        HF_HUB_ETAG_TIMEOUT="1",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loading, pushing, publishing = result.stdout.splitlines()
    assert "could not be reached, and no copy of it is cached" in loading
    for line, repo_id in ((pushing, "someone/pushed"), (publishing, "someone/published")):
        assert line.split()[1] == "HubPushError:"
        assert (
            f"saved locally in {tmp_path}/model." in line
            and f"hf-gan publish {tmp_path}/model --repo_id {repo_id}" in line
        )
    for line in (loading, pushing, publishing):
        assert float(line.split()[0]) < 5, line  # two tries of 1 s, one second apart


def test_download_options_do_what_they_say(tmp_path, silent_hub):
    repo_id = "user/options"
    first, second = make_pipeline("cgan", seed=1), make_pipeline("cgan", seed=2)
    first.push_to_hub(repo_id)
    first_commit = HfApi().model_info(repo_id).sha
    second.push_to_hub(repo_id)
    expected_first, expected_second = images_pt(first, "cgan"), images_pt(second, "cgan")

    # revision picks that revision's weights; a missing one is the Hub's error
    pinned = ConditionalGANPipeline.from_pretrained(repo_id, revision=first_commit, cache_dir=tmp_path / "cache")
    torch.testing.assert_close(images_pt(pinned, "cgan"), expected_first, rtol=0, atol=0)
    with pytest.raises(RevisionNotFoundError):
        GANPipeline.from_pretrained(repo_id, revision="no-such-branch")
    # cache_dir receives the download
    ConditionalGANPipeline.from_pretrained(repo_id, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").rglob("diffusion_pytorch_model.safetensors"))) == 4  # 2 revisions x 2
    # force_download downloads the weights again
    start = len(HUB_STATE.requests)
    ConditionalGANPipeline.from_pretrained(repo_id, cache_dir=tmp_path / "cache", force_download=True)
    assert any(r.endswith("generator/diffusion_pytorch_model.safetensors") for r in HUB_STATE.requests[start:])
    # dtype, or torch_dtype as older diffusers call it
    for option in ("dtype", "torch_dtype"):
        half = ConditionalGANPipeline.from_pretrained(repo_id, **{option: torch.bfloat16})
        assert half.generator.dtype == torch.bfloat16
        assert (images_pt(half, "cgan") - expected_second).abs().max() < 0.1

    # local_files_only / HF_HUB_OFFLINE: the cached copy loads with the Hub silent; nothing cached is a clear error
    result = run_python(
        f"""
        import torch, hf_gan
        pipe = hf_gan.ConditionalGANPipeline.from_pretrained(
            "{repo_id}", cache_dir="{tmp_path}/cache", local_files_only=True
        )
        images = pipe(class_labels=[0, 1, 2], generator=torch.manual_seed(0), output_type="pt").images
        torch.save(images, "{tmp_path}/offline.pt")
        try:
            hf_gan.ConditionalGANPipeline.from_pretrained(
                "{repo_id}", cache_dir="{tmp_path}/empty", local_files_only=True
            )
        except OSError as error:
            print(error)
        """,
        HF_ENDPOINT=silent_hub,
        HF_HUB_OFFLINE="1",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    torch.testing.assert_close(torch.load(tmp_path / "offline.pt"), expected_second, rtol=0, atol=0)
    assert "local_files_only=True (or HF_HUB_OFFLINE=1) was asked for, and no copy of it is cached" in result.stdout


def test_this_tests_upload_went_over_http_with_plain_lfs(tmp_path):
    repo_id = "user/lfs-check"
    pipe = make_pipeline("gan")
    pipe.save_pretrained(tmp_path)
    start = len(HUB_STATE.requests)
    push_folder(str(tmp_path), repo_id)
    requests = HUB_STATE.requests[start:]
    assert f"POST /{repo_id}.git/info/lfs/objects/batch" in requests
    assert any(r.startswith(f"POST /api/models/{repo_id}/commit/") for r in requests)
    # the server holds, as LFS objects, exactly the bytes of this folder's weight files
    for weights in tmp_path.rglob("*.safetensors"):
        data = weights.read_bytes()
        assert HUB_STATE.lfs_objects[hashlib.sha256(data).hexdigest()] == data


def test_published_card_matches_how_the_repository_loads(tmp_path):
    folder = tmp_path / "mnist-cgan"
    pipe = make_pipeline("cgan")
    pipe.save_pretrained(folder)
    pipe(class_labels=[0], output_type="pil").images[0].save(folder / "samples.png")
    write_model_card(folder, "cgan", str(folder), "ylecun/mnist", {"steps": 1}, {})
    [repo_id] = publish([str(folder)], repo_id="user/published-cgan")

    card = ModelCard.load(repo_id)
    if version.parse(huggingface_hub.__version__) >= version.parse("2.0"):  # 1.x (checked: 0.34, 1.28) always
        card.validate()  # asks huggingface.co; 2.x asks HF_ENDPOINT, here the test Hub's /api/validate-yaml
        assert "POST /api/validate-yaml" in HUB_STATE.requests
    data = card.data.to_dict()
    assert data["library_name"] == "diffusers" and data["pipeline_tag"] == "unconditional-image-generation"
    assert {"gan", "class-conditional"} <= set(data["tags"]) and data["datasets"] == ["ylecun/mnist"]
    assert "widget" not in data and "![Samples" in card.text
    assert str(folder) not in card.text  # the snippet names the repository, not the local folder
    snippets = [block.split("```")[0] for block in card.text.split("```python\n")[1:]]
    assert 'DiffusionPipeline.from_pretrained("user/published-cgan", trust_remote_code=True)' in snippets[0]
    assert 'ConditionalGANPipeline.from_pretrained("user/published-cgan")' in snippets[1]
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_HF_GAN + snippets[0]], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "sample.png").stat().st_size > 0
