"""Uploading a pipeline folder to the Hub, as training (--push_to_hub) and `hf-gan publish` do.

Hub calls wait at most HF_HUB_ETAG_TIMEOUT seconds (huggingface_hub's setting, default 10) for an answer, twice,
before giving up; a failed push says where the model is saved and the command that pushes it again.
"""

import os

from huggingface_hub import constants, create_repo, upload_folder
from huggingface_hub.utils import HfHubHTTPError

from .pipelines.pipeline_utils import hub_repo_info


# Training by-products that stay local: checkpoints (also half-written ones), tracker logs, intermediate grids,
# earlier runs moved aside, the run id and the output folder's lock.
UPLOAD_IGNORE = ["checkpoint-*", "logs/*", "samples/*", "previous-*", "run.json", "run.lock*"]


class HubPushError(RuntimeError):
    """A push that failed; the model is still in its local folder."""


def push_folder(
    folder: str,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload hf_gan pipeline",
    saved_folder: str | None = None,
) -> str:
    """Creates `repo_id` if needed and uploads `folder` without training by-products; returns the repo id.

    Raises HubPushError naming `saved_folder` (default: `folder`; the original when `folder` is a staging copy) as
    where the model is kept and the command that pushes it again."""
    saved_folder = saved_folder or folder
    try:
        try:
            reachable = hub_repo_info(repo_id, token=token) is not None
        except HfHubHTTPError:  # e.g. no such repository yet: the Hub answered
            reachable = True
        if not reachable:
            raise ConnectionError(
                f"the Hub ({constants.ENDPOINT}) did not answer within "
                f"{constants.HF_HUB_ETAG_TIMEOUT} s (HF_HUB_ETAG_TIMEOUT), twice"
            )
        repo_id = create_repo(repo_id, private=private, token=token, exist_ok=True).repo_id
        upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            token=token,
            ignore_patterns=UPLOAD_IGNORE,
            commit_message=commit_message,
        )
    except Exception as error:
        raise HubPushError(
            f"Could not push {saved_folder} to {repo_id}: {type(error).__name__}: {error}\n"
            f"The model is saved locally in {os.path.abspath(saved_folder)}. Push it again with:\n"
            f"    hf-gan publish {saved_folder} --repo_id {repo_id}"
        ) from error
    return repo_id
