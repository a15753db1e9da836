"""Schemathesis (a schema-driven API fuzzer) against a live hub, as a contributor: every operation of
the OpenAPI document gets generated requests (a bounded number each), valid and invalid, in two
passes — with random path ids, then with the demo project's real ids so that bodies reach the
hub's logic. No answer may be a server error, use a status the document does not list, or have
a body that breaks its schema.

Run by scripts/test.sh with CONTENTHUB_TEST_BIN pointing at the contenthub binary.
"""

import os
import subprocess
import sys
from pathlib import Path

from hubproc import Server, token

HERE = Path(__file__).parent / "schemathesis"
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"


def run(server: Server, secret: str, seed: int, config: Path | None) -> subprocess.CompletedProcess:
    command = [SCHEMATHESIS]
    if config:
        command += ["--config-file", str(config)]
    command += [
        "run", f"{server.base}/api/v1/openapi.json",
        "-H", f"Authorization: Bearer {secret}",
        "--checks", CHECKS,
        "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "25"),
        "--seed", str(seed),
        # Revoking its own token would end the run; revocation has its own tests.
        "--exclude-path", "/tokens/{id}",
        "--no-color",
    ]
    env = {**os.environ, "PYTHONPATH": str(HERE), "SCHEMATHESIS_HOOKS": "tus_body"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)


def test_the_api_keeps_its_document_under_generated_requests(tmp_path):
    data = tmp_path / "hub"
    server = Server(data)
    try:
        secret = token(data)
        for seed, config in [(20261201, None), (20261202, HERE / "known-ids.toml")]:
            result = run(server, secret, seed, config)
            output = result.stdout + result.stderr
            assert result.returncode == 0, output[-6000:]
            assert " passed" in output and "generated" in output, output[-2000:]
    finally:
        server.stop()
