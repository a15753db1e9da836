"""The real contenthub binary for the interoperability tests: a demo hub on a free port, and tokens.

CONTENTHUB_TEST_BIN points at the binary (scripts/test.sh sets it).
"""

import os
import re
import signal
import subprocess
from pathlib import Path

BIN = os.environ["CONTENTHUB_TEST_BIN"]


class Server:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [BIN, "serve", "--demo", "--bind", "127.0.0.1:0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "CONTENTHUB_LOG": "warn"},
        )
        self.lines = []
        for line in self.proc.stdout:
            self.lines.append(line)
            found = re.search(r"open http://([0-9.:]+)/", line)
            if found:
                self.base = f"http://{found.group(1)}"
                return
        raise RuntimeError(f"server did not start: {self.lines}")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0


def token(data_dir: Path, user: str = "soundhouse") -> str:
    """A new API token (deliver scope) for a demo user."""
    out = subprocess.run([BIN, "admin", "create-token", user, "--data-dir", str(data_dir)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()
