"""A minimal Hugging Face Hub look-alike on 127.0.0.1, for testing the real huggingface_hub client over HTTP.

It speaks the parts of the Hub's HTTP API that uploads and downloads of model repos use: create a repo or a branch,
pre-upload, Git LFS batch + PUT (plain LFS: run the client with HF_HUB_DISABLE_XET=1), NDJSON commits, repo info,
tree listing and `resolve` downloads. Repos live in memory as commits of {path: bytes}; a commit id is a sha1.

    python tests/hub_server.py --port 8765   # then HF_ENDPOINT=http://127.0.0.1:8765 HF_HUB_DISABLE_XET=1
"""

import argparse
import base64
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

import yaml


LFS_SUFFIXES = (".safetensors", ".bin", ".png", ".jpg", ".parquet", ".arrow", ".gz")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, repo_id: str, private: bool, sdk: str | None = None):
        self.repo_id, self.private, self.sdk = repo_id, private, sdk
        self.commits: dict[str, dict[str, bytes]] = {}
        self.branches: dict[str, str] = {}
        self.branches["main"] = self.commit(
            None, {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"}
        )

    def commit(self, parent: str | None, files: dict[str, bytes]) -> str:
        sha = hashlib.sha1(f"{self.repo_id}{parent}{time.time_ns()}{sorted(files)}".encode()).hexdigest()
        self.commits[sha] = files
        return sha

    def resolve(self, revision: str) -> str | None:
        revision = unquote(revision)
        if revision in self.branches:
            return self.branches[revision]
        return revision if revision in self.commits else None


class HubState:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.requests: list[str] = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: HubState  # set by serve()

    def log_message(self, *args):  # keep test output quiet
        pass

    # -- helpers -------------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.headers['Host']}"

    def send(self, status: int, body=b"", headers=None, content_type="application/json"):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status: int, code: str, message: str):
        self.send(status, {"error": message}, headers={"X-Error-Code": code, "X-Error-Message": message})

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def find_repo(self, repo_id: str) -> Repo | None:
        repo = self.state.repos.get(repo_id)
        if repo is None:
            self.error(404, "RepoNotFound", f"Repository {repo_id} not found")
        return repo

    def find_commit(self, repo: Repo, revision: str) -> str | None:
        sha = repo.resolve(revision)
        if sha is None:
            self.error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return sha

    # -- routing -------------------------------------------------------------------------------------------------
    def route(self):
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = parse_qs(url.query)
        self.state.requests.append(f"{self.command} {url.path}")
        # Spaces are served like models, their repos kept under "spaces/<id>".
        space = parts[:2] == ["api", "spaces"] or parts[0] == "spaces"
        if space:
            parts = ["api", "models", *parts[2:]] if parts[0] == "api" else parts[1:]
        with self.state.lock:
            if parts[:3] == ["api", "repos", "create"] and self.command == "POST":
                return self.create_repo(json.loads(self.body()))
            if parts[:2] == ["api", "validate-yaml"] and self.command == "POST":
                return self.validate_yaml(json.loads(self.body())["content"])
            if parts[:2] == ["api", "whoami-v2"]:
                return self.send(
                    200, {"type": "user", "name": "user", "orgs": [], "auth": {"accessToken": {"role": "write"}}}
                )
            prefix = "spaces/" if space else ""
            if len(parts) == 4 and parts[:2] == ["api", "models"]:  # repo info at the default branch
                return self.api(prefix + "/".join(parts[2:4]), "revision", ["main"], query)
            if len(parts) >= 5 and parts[:2] == ["api", "models"]:
                return self.api(prefix + "/".join(parts[2:4]), parts[4], parts[5:], query)
            if len(parts) >= 3 and parts[0] == "lfs-upload":
                self.state.lfs_objects[parts[1]] = self.body()
                return self.send(200, {})
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.resolve(prefix + "/".join(parts[:2]), parts[3], "/".join(parts[4:]))
            if len(parts) == 6 and parts[1].endswith(".git") and parts[2:] == ["info", "lfs", "objects", "batch"]:
                return self.lfs_batch(json.loads(self.body()))
        self.error(404, "NotFound", f"{self.command} {url.path} is not served by the test Hub")

    do_GET = do_HEAD = do_POST = do_PUT = route

    # -- endpoints -----------------------------------------------------------------------------------------------
    def create_repo(self, payload):
        repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
        key = f"spaces/{repo_id}" if payload.get("type") == "space" else repo_id
        if key in self.state.repos:
            return self.send(409, {"error": "You already created this repo", "url": f"{self.base_url}/{key}"})
        self.state.repos[key] = Repo(key, bool(payload.get("private")), payload.get("sdk"))  # a Space's SDK
        self.send(200, {"url": f"{self.base_url}/{key}", "name": repo_id})

    def validate_yaml(self, content: str):
        """Checks a README's front matter the way the Hub does at its core: it must be a YAML mapping."""
        match = re.match(r"^---\n(.*?)\n---", content, re.DOTALL)
        try:
            metadata = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as error:
            return self.send(400, {"errors": [{"message": f"Invalid YAML: {error}"}]})
        if not isinstance(metadata, dict):
            return self.send(400, {"errors": [{"message": "Metadata must be a YAML mapping"}]})
        self.send(200, {"errors": [], "warnings": []})

    def api(self, repo_id, action, rest, query):
        repo = self.find_repo(repo_id)
        if repo is None:
            return
        if action == "revision" and rest:
            sha = self.find_commit(repo, "/".join(rest))
            if sha:
                siblings = [{"rfilename": path} for path in sorted(repo.commits[sha])]
                name = repo_id.removeprefix("spaces/")
                self.send(
                    200,
                    {
                        "id": name,
                        "modelId": name,
                        "sha": sha,
                        "private": repo.private,
                        "siblings": siblings,
                        "sdk": repo.sdk,
                    },
                )
        elif action == "tree" and rest:
            sha = self.find_commit(repo, rest[0])
            if sha:
                self.send(200, self.tree(repo.commits[sha], "/".join(rest[1:]), "true" in query.get("recursive", [])))
        elif action == "preupload":
            files = json.loads(self.body())["files"]
            modes = [
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) else "regular",
                    "shouldIgnore": False,
                }
                for f in files
            ]
            self.send(200, {"files": modes, "commitOid": repo.resolve(rest[0] if rest else "main")})
        elif action == "commit" and rest:
            self.commit(repo, unquote("/".join(rest)))
        elif action == "branch" and rest and self.command == "POST":
            payload = json.loads(self.body() or b"{}")
            branch = "/".join(rest)
            if branch in repo.branches:
                return self.error(409, "BranchExists", f"Branch {branch} already exists")
            repo.branches[branch] = repo.resolve(payload.get("startingPoint") or "main")
            self.send(200, {})
        else:
            self.error(404, "NotFound", f"api/models/{repo_id}/{action} is not served by the test Hub")

    def tree(self, files, prefix, recursive):
        entries, folders = [], set()
        for path, data in sorted(files.items()):
            if prefix and not path.startswith(prefix.rstrip("/") + "/"):
                continue
            relative = path[len(prefix.rstrip("/")) + 1 :] if prefix else path
            if "/" in relative:
                folder = (prefix.rstrip("/") + "/" if prefix else "") + relative.split("/")[0]
                if folder not in folders:
                    folders.add(folder)
                    entries.append(
                        {
                            "type": "directory",
                            "oid": hashlib.sha1(folder.encode()).hexdigest(),
                            "size": 0,
                            "path": folder,
                        }
                    )
                if not recursive:
                    continue
            entry = {"type": "file", "oid": git_blob_id(data), "size": len(data), "path": path}
            if path.endswith(LFS_SUFFIXES):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            entries.append(entry)
        return entries

    def lfs_batch(self, payload):
        objects = []
        for obj in payload["objects"]:
            action = {}
            if obj["oid"] not in self.state.lfs_objects:
                action = {"actions": {"upload": {"href": f"{self.base_url}/lfs-upload/{obj['oid']}/{obj['size']}"}}}
            objects.append({"oid": obj["oid"], "size": obj["size"], "authenticated": True, **action})
        self.send(
            200,
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
            content_type="application/vnd.git-lfs+json",
        )

    def commit(self, repo: Repo, branch: str):
        lines = [json.loads(line) for line in self.body().decode().splitlines() if line.strip()]
        parent = repo.resolve(branch)
        if parent is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {branch}")
        files = dict(repo.commits[parent])
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                if value["oid"] not in self.state.lfs_objects:
                    return self.error(400, "BadRequest", f"LFS object {value['oid']} was never uploaded")
                files[value["path"]] = self.state.lfs_objects[value["oid"]]
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                files = {p: d for p, d in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
        sha = repo.commit(parent, files)
        repo.branches[branch] = sha
        self.send(
            200,
            {"commitUrl": f"{self.base_url}/{repo.repo_id}/commit/{sha}", "commitOid": sha, "pullRequestUrl": None},
        )

    def resolve(self, repo_id, revision, path):
        repo = self.find_repo(repo_id)
        sha = repo and self.find_commit(repo, revision)
        if not sha:
            return
        data = repo.commits[sha].get(path)
        if data is None:
            return self.error(404, "EntryNotFound", f"{path} does not exist at {revision}")
        headers = {"X-Repo-Commit": sha, "ETag": f'"{git_blob_id(data)}"', "Accept-Ranges": "none"}
        if path.endswith(LFS_SUFFIXES):
            headers.update({"X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"', "X-Linked-Size": str(len(data))})
        self.send(200, data, headers=headers, content_type="application/octet-stream")


def serve(port: int = 0) -> tuple[ThreadingHTTPServer, HubState]:
    """Starts the server in a daemon thread; returns it (its URL: http://127.0.0.1:{server.server_port}) and its
    state."""
    state = HubState()
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765)
    server, _ = serve(parser.parse_args().port)
    print(f"test Hub at http://127.0.0.1:{server.server_port}", flush=True)
    threading.Event().wait()
