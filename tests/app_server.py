"""The real app for browser tests: the demo world seeded into a file database, Streamlit started
on a port of its own, waited for and stopped. Shared by tests/test_browser.py and
tests/test_oidc_login.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seeded_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: str) -> tuple[dict[str, str], str]:
    """(the app's environment, its database URL): the demo world (the AppTests' seed, fake filler)
    in tmp_path, the same settings in this process too, plus `extra` COUNTERSIGN_* settings."""
    url = f"sqlite:///{tmp_path / 'countersign.db'}"
    env = {
        **os.environ,
        "COUNTERSIGN_DATABASE_URL": url,
        "COUNTERSIGN_FILLER": "fake",
        "COUNTERSIGN_GUIDELINES_DIR": str(ROOT / "brand_guidelines"),
        "COUNTERSIGN_TEMPLATES_DIR": str(ROOT / "templates"),
        "COUNTERSIGN_DATA_DIR": str(tmp_path / "data"),
        "COUNTERSIGN_EXPORT_DIR": str(tmp_path / "exports"),
        **extra,
    }
    for k, v in env.items():
        if k.startswith("COUNTERSIGN_"):
            monkeypatch.setenv(k, v)
    sys.path.insert(0, str(Path(__file__).parent / "ui"))
    from ui_helpers import seed  # the same demo world as the AppTests

    from review.db import make_engine

    engine = make_engine(url)
    seed(engine)
    engine.dispose()
    return env, url


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer in {seconds:.0f} s:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.25)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def streamlit(env: dict[str, str], port: int, log: Path, *args: str) -> Iterator[None]:
    """`streamlit run app.py` on 127.0.0.1:port until the block ends; healthy before it starts.
    Under CI an unexpected exit prints the server's log."""
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port)]
    cmd += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", proc, log, "streamlit")
        yield
    finally:
        stop(proc)
        if proc.returncode not in (0, -15, None) and os.environ.get("CI"):
            print(log.read_text(errors="replace")[-4000:])
