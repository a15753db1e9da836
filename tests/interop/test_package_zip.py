"""A zipless package downloaded as one ZIP (issue 14): the real hub, a frame folder delivered by our
CLI as package streams and validated, then `GET /api/v1/assets/{id}/zip`. Python's zipfile, Info-ZIP
`unzip -t`, 7-Zip `7z t` and our `npack verify` accept it; it holds the folder's files byte for byte,
flat, in npack's order with checksum.txt last; and a download cut short resumes with Range.

Run by scripts/test.sh with CONTENTHUB_TEST_BIN (the contenthub binary) and NPACK_BIN (ours).
"""

import hashlib
import json
import os
import subprocess
import urllib.request
import zipfile
from pathlib import Path

from hubproc import BIN, Server, token

NPACK = os.environ["NPACK_BIN"]


def make_folder(folder: Path) -> dict:
    """Frames of assorted sizes (an empty one too) and their checksum.txt; returns name -> bytes."""
    folder.mkdir()
    files = {}
    for i, size in enumerate([70_001, 0, 1, 300_000, 12, 65_536, 4_097]):
        data = bytes((b * 31 + i) % 251 for b in range(size))
        name = f"r7.{86400 + i:07d}.dpx"
        (folder / name).write_bytes(data)
        files[name] = data
    lines = "".join(f"{n}\t{len(d)}\tmd5\t{hashlib.md5(d).hexdigest()}\n" for n, d in sorted(files.items()))
    (folder / "checksum.txt").write_text(lines)
    files["checksum.txt"] = lines.encode()
    return files


def get(url: str, secret: str, headers=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}", **(headers or {})})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.status, answer.headers, answer.read()


def test_a_package_downloads_as_one_zip_that_every_tool_accepts_and_resumes(tmp_path):
    data = tmp_path / "hub"
    server = Server(data)
    try:
        files = make_folder(tmp_path / "r7_frames")
        home = tmp_path / "home"
        env = {**os.environ, "CONTENTHUB_HOME": str(home), "CONTENTHUB_LOG": "warn"}
        secret = token(data, "lab")
        subprocess.run([BIN, "login", server.base, "--token", secret], env=env, check=True, capture_output=True)
        out = subprocess.run(
            [BIN, "deliver", "--request", "3", "--wait", "--json", str(tmp_path / "r7_frames")],
            env=env, check=True, capture_output=True, text=True, timeout=300,
        )
        delivered = json.loads(out.stdout)["files"][0]
        assert delivered["state"] == "valid", delivered
        url = f"{server.base}/api/v1/assets/{delivered['asset_id']}/zip"
        status, headers, whole = get(url, secret)
        assert status == 200 and headers["Content-Type"] == "application/zip"
        archive = tmp_path / "r7_frames.zip"
        archive.write_bytes(whole)

        with zipfile.ZipFile(archive) as z:
            assert z.testzip() is None
            infos = z.infolist()
            names = [i.filename for i in infos]
            assert names[-1] == "checksum.txt"
            assert names[:-1] == sorted(names[:-1], key=lambda n: (n + "\t").encode())
            assert sorted(names) == sorted(files)
            assert all(i.compress_type == zipfile.ZIP_STORED and "/" not in i.filename for i in infos)
            for name, content in files.items():
                assert z.read(name) == content, name
        unzip = subprocess.run(["unzip", "-tqq", str(archive)], capture_output=True, text=True, timeout=300)
        assert unzip.returncode == 0, unzip.stdout + unzip.stderr
        seven = subprocess.run(["7z", "t", str(archive)], capture_output=True, text=True, timeout=300)
        assert seven.returncode == 0 and "Everything is Ok" in seven.stdout, seven.stdout + seven.stderr
        verify = subprocess.run([NPACK, "verify", str(archive)], capture_output=True, text=True, timeout=300)
        assert verify.returncode == 0, verify.stdout + verify.stderr

        # A download cut short continues from where it stopped.
        cut = len(whole) // 3
        status, headers, rest = get(url, secret, {"Range": f"bytes={cut}-"})
        assert status == 206 and headers["Content-Range"] == f"bytes {cut}-{len(whole) - 1}/{len(whole)}"
        assert whole[:cut] + rest == whole
    finally:
        server.stop()
