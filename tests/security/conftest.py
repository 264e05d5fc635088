"""Hostile-input suite: the dangerous payloads run in a child process with a memory ceiling
(RLIMIT_AS) and a timeout, so a regression fails its test instead of taking the machine down.

`guarded(code)` runs Python `code` in a fresh interpreter from the checkout root and returns
what it printed as JSON. The child must print exactly one JSON value on its last line. A
traceback, a crash, running out of memory or time all fail the calling test.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Enough for the interpreter, jinja2, PyYAML and sqlmodel (about 300 MB of address space);
# far below what any of the bombs in this suite would need if they went off.
MEMORY_CEILING_MB = 1024
HANG_GUARD_S = 60  # a hang guard, not a timing assertion: each child normally takes about a second


def _limit(max_mb: int) -> Callable[[], None]:
    def apply() -> None:
        cap = max_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return apply


def run_guarded(code: str, *, max_mb: int = MEMORY_CEILING_MB, timeout: float = HANG_GUARD_S, env: dict[str, str] | None = None) -> Any:
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=_limit(max_mb),  # noqa: PLW1509 - no threads in the parent at this point matter
            cwd=ROOT,
            env=child_env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child did not finish within {timeout} s: a hang")
    if proc.returncode != 0:
        pytest.fail(f"the child failed (exit {proc.returncode}; MemoryError means it grew past {max_mb} MB):\n{proc.stderr[-3000:]}")
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def guarded() -> Callable[..., Any]:
    return run_guarded
