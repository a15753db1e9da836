"""Real third-party tus clients against the real server: tuspy (Python), including a resume after
the server process is killed mid-upload. The stored bytes must be the file's, byte for byte.

Run by scripts/test.sh with CONTENTHUB_TEST_BIN pointing at the contenthub binary.
"""

import hashlib
import os
from pathlib import Path

import pytest
from tusclient import client as tus

from hubproc import Server, token


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stored(data_dir: Path, url: str) -> Path:
    return data_dir / "blobs" / "uploads" / url.rstrip("/").rsplit("/", 1)[-1] / "data"


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "r1_printmaster.wav"
    path.write_bytes(os.urandom(23 * 1024 * 1024 + 123))
    return path


def metadata(project="1"):
    return {"project": project, "bucket": "final-sound", "filename": "r1_printmaster.wav"}


def test_tuspy_uploads_with_checksums_byte_identical(tmp_path, source):
    data = tmp_path / "hub"
    server = Server(data)
    try:
        headers = {"Authorization": f"Bearer {token(data)}"}
        uploader = tus.TusClient(f"{server.base}/api/v1/uploads", headers=headers).uploader(
            str(source), chunk_size=5 * 1024 * 1024, metadata=metadata(), upload_checksum=True)
        uploader.upload()
        assert sha256(stored(data, uploader.url)) == sha256(source)
    finally:
        server.stop()


def test_tuspy_resumes_after_the_server_is_killed(tmp_path, source):
    data = tmp_path / "hub"
    server = Server(data)
    secret = token(data)
    headers = {"Authorization": f"Bearer {secret}"}
    first = tus.TusClient(f"{server.base}/api/v1/uploads", headers=headers).uploader(
        str(source), chunk_size=4 * 1024 * 1024, metadata=metadata())
    first.upload(stop_at=9 * 1024 * 1024)
    acknowledged = first.offset
    size = source.stat().st_size
    assert 0 < acknowledged < size, f"the kill lands mid-upload ({acknowledged} of {size} bytes)"
    url_path = first.url.split("/api/v1/", 1)[1]
    server.kill()  # no graceful shutdown: as if the machine lost power between chunks

    server = Server(data)
    try:
        resumed = tus.TusClient(f"{server.base}/api/v1/uploads", headers=headers).uploader(
            str(source), chunk_size=4 * 1024 * 1024, url=f"{server.base}/api/v1/{url_path}")
        assert resumed.get_offset() == acknowledged, "the server kept every acknowledged byte"
        resumed.upload()
        assert sha256(stored(data, resumed.url)) == sha256(source)
    finally:
        server.stop()


def test_tuspy_is_refused_outside_its_projects(tmp_path, source):
    data = tmp_path / "hub"
    server = Server(data)
    try:
        headers = {"Authorization": f"Bearer {token(data)}"}
        uploader_client = tus.TusClient(f"{server.base}/api/v1/uploads", headers=headers)
        with pytest.raises(Exception) as refused:
            uploader_client.uploader(str(source), chunk_size=1 << 20, metadata=metadata(project="999")).upload()
        assert "404" in str(refused.value)
    finally:
        server.stop()
