"""`make console`: the console someone opens by hand — a gateway and a local OpenID Provider that customer IT
signs in to in a real browser, reaching the admin pages, and that stop together on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from enclave.demo.common import free_port
from enclave.demo.console import chromium, sign_in
from enclave.demo.open_console import CUSTOMER_IT


def test_make_console_serves_the_console_to_customer_it_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ENCLAVE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "enclave.demo.open_console", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path.cwd())},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Ctrl-C stops both" in line or not line:
                break
        assert any("The console is at" in line for line in lines), "".join(lines)
        base = f"http://127.0.0.1:{port}"
        with chromium() as browser:
            context = browser.new_context()
            page = sign_in(context, base, CUSTOMER_IT)
            response = page.goto(f"{base}/admin/users")
            assert response is not None and response.status == 200
            assert CUSTOMER_IT in page.content()
            context.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert (tmp_path / ".enclave" / "console").is_dir()  # everything it wrote stays under its own folder
