"""The inference-server filler against a small fake OpenAI-compatible server (http.server in a
thread): model discovery and fingerprints, `n` and its fallback, seeds, retries and backoff,
timeouts, refusals, garbage answers, a model swapped under a running process, and a generation
job that records a server failure. tests/test_remote_filler.py runs a real llama.cpp server."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlmodel import select

from review.errors import ConfigError, GenerationError, ModelLoadError
from review.filling import GenerationSettings, Prompt, RemoteFiller, candidate_seed, load_filler
from review.filling.remote import api_base, remote_requested, wire_seed
from review.generation import generate_campaign
from review.models import AuditEvent, Draft, GenerationJob, JobStatus

PROMPT = Prompt.from_messages(
    [
        {"role": "system", "content": "You write one short sentence."},
        {"role": "user", "content": "Task: welcome"},
        {"role": "assistant", "content": "Welcome aboard."},
        {"role": "user", "content": "Task: welcome\nCustomer data: {}"},
    ]
)
OTHER = Prompt.from_messages([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Task: tip"}])


@dataclass
class FakeServer:
    """What the fake server serves and how it misbehaves; every request it saw is in `seen`."""

    models: list[dict[str, Any]] = field(default_factory=lambda: [{"id": "fake-7b", "object": "model", "owned_by": "test"}])
    props: dict[str, Any] | None = None
    tags: dict[str, Any] | None = None
    honours_n: bool = True
    refuses_penalty: bool = False
    stamp_created: bool = False  # like vLLM: `created` is the time of each request
    tagged: bool = True  # candidates carry "[seed/k]"; off: the prompt's example verbatim (passes brand checks)
    # For chat completions: actions used up one per request before answering normally:
    # ("status", code, headers, body) | ("garbage", bytes) | ("sleep", seconds) | ("drop",) | ("json", obj)
    script: deque[tuple[Any, ...]] = field(default_factory=deque)
    always: tuple[Any, ...] | None = None  # an action for every chat request
    barrier: threading.Barrier | None = None  # chat requests wait here (tests concurrency)
    seen: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def chats(self) -> list[dict[str, Any]]:
        return [body for method, path, body, _ in self.seen if method == "POST" and path == "/v1/chat/completions" and body is not None]

    def generation_chats(self) -> list[dict[str, Any]]:
        """Chat requests other than the filler's one-token probes."""
        return [b for b in self.chats() if b.get("max_tokens") != 1]


def _text_for(body: dict[str, Any], k: int, tagged: bool) -> str:
    """A deterministic candidate: the prompt's first few-shot example, tagged with seed and index."""
    examples = [m["content"] for m in body["messages"] if m["role"] == "assistant"]
    base = examples[0] if examples else "Thank you for being with us."
    if body.get("max_tokens") == 1:
        return "OK"
    return f"{base} [{body.get('seed')}/{k}]" if tagged else base


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # one write per answer (headers and body), flushed after each request

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, code: int, payload: bytes, ctype: str = "application/json", headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            self._send(code, json.dumps(obj).encode(), headers=headers)

        def do_GET(self) -> None:
            server.seen.append(("GET", self.path, None, dict(self.headers)))
            if self.path == "/v1/models":
                data = [dict(m, created=time.time_ns()) if server.stamp_created else m for m in server.models]
                self._json(200, {"object": "list", "data": data})
            elif self.path == "/props" and server.props is not None:
                self._json(200, server.props)
            elif self.path == "/api/tags" and server.tags is not None:
                self._json(200, server.tags)
            else:
                self._json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            server.seen.append(("POST", self.path, body, dict(self.headers)))
            if self.path != "/v1/chat/completions":
                return self._json(404, {"error": {"message": "no route"}})
            action = server.script.popleft() if server.script else server.always
            if action is not None:
                kind = action[0]
                if kind == "status":
                    return self._json(action[1], action[3] if len(action) > 3 else {"error": {"message": f"fake {action[1]}"}}, action[2])
                if kind == "garbage":
                    return self._send(200, action[1], "text/html")
                if kind == "json":
                    return self._json(200, action[1])
                if kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if kind == "sleep":
                    time.sleep(action[1])
            if server.refuses_penalty and ("repeat_penalty" in body or "repetition_penalty" in body):
                return self._json(400, {"error": {"message": "Unrecognized request argument supplied: repeat_penalty"}})
            if server.barrier is not None and body.get("max_tokens") != 1:
                try:
                    server.barrier.wait()
                except threading.BrokenBarrierError:
                    return self._json(400, {"error": {"message": "requests did not arrive together"}})
            n = int(body.get("n", 1)) if server.honours_n else 1
            choices = [{"index": k, "message": {"role": "assistant", "content": _text_for(body, k, server.tagged)}, "finish_reason": "stop"} for k in range(n)]
            self._json(
                200, {"object": "chat.completion", "model": body.get("model"), "choices": choices, "usage": {"prompt_tokens": 10, "completion_tokens": 5 * n}}
            )
            return None

    return Handler


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    state = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _filler(fake: FakeServer, **kw: Any) -> RemoteFiller:
    kw.setdefault("sleep", Sleeps())
    kw.setdefault("timeout", 5.0)
    return RemoteFiller(fake.url, **kw)


SETTINGS = GenerationSettings(n_candidates=3)


# ------------------------------------------------------------------------------ settings
def test_base_url_is_taken_with_or_without_v1_and_a_bad_one_is_refused() -> None:
    assert api_base("http://gpu-box:8000") == "http://gpu-box:8000/v1"
    assert api_base(" http://gpu-box:8000/v1/ ") == "http://gpu-box:8000/v1"
    assert api_base("https://llm.example.org/ollama/v1") == "https://llm.example.org/ollama/v1"
    for bad in ("gpu-box:8000", "ftp://gpu-box/v1", "http://", "http://h/v1?x=1"):
        with pytest.raises(ConfigError, match="COUNTERSIGN_MODEL_URL"):
            api_base(bad)


def test_settings_come_from_the_environment_and_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from review.config import settings

    monkeypatch.setenv("COUNTERSIGN_MODEL_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("COUNTERSIGN_MODEL_NAME", "m")
    monkeypatch.setenv("COUNTERSIGN_MODEL_API_KEY", "sk-test")
    monkeypatch.setenv("COUNTERSIGN_MODEL_CONCURRENCY", "8")
    monkeypatch.setenv("COUNTERSIGN_MODEL_TIMEOUT", "2.5")
    monkeypatch.setenv("COUNTERSIGN_MODEL_RETRIES", "0")
    s = settings()
    assert (s.model_url, s.model_name, s.model_api_key, s.model_concurrency, s.model_timeout, s.model_retries) == (
        "http://127.0.0.1:9/v1",
        "m",
        "sk-test",
        8,
        2.5,
        0,
    )
    for name, bad in (
        ("COUNTERSIGN_MODEL_TIMEOUT", "0"),
        ("COUNTERSIGN_MODEL_TIMEOUT", "soon"),
        ("COUNTERSIGN_MODEL_RETRIES", "-1"),
        ("COUNTERSIGN_MODEL_CONCURRENCY", "0"),
    ):
        with monkeypatch.context() as m:
            m.setenv(name, bad)
            with pytest.raises(ConfigError, match=name):
                settings()


def test_load_filler_uses_the_server_when_a_url_is_set_but_an_explicit_local_model_wins(monkeypatch: pytest.MonkeyPatch, fake: FakeServer) -> None:
    monkeypatch.delenv("COUNTERSIGN_MODEL_PATH", raising=False)
    assert not remote_requested(None)
    monkeypatch.setenv("COUNTERSIGN_MODEL_URL", fake.url)
    filler = load_filler(None)
    assert isinstance(filler, RemoteFiller) and filler.url == fake.url + "/v1"
    assert load_filler(None) is filler  # one per process and configuration
    assert fake.seen == []  # nothing is asked before the filler is first used
    assert not remote_requested("/models/other.gguf")  # the CLI's --model still means a local model
    monkeypatch.setenv("COUNTERSIGN_MODEL_PATH", "/models/x.gguf")
    assert remote_requested("/models/x.gguf")  # the same path the app passes from the environment: the URL wins


# ------------------------------------------------------------------------------ identity
def test_the_first_served_model_is_used_unless_one_is_named(fake: FakeServer) -> None:
    fake.models = [{"id": "first", "object": "model"}, {"id": "second", "object": "model"}]
    assert _filler(fake).model_name == "first"
    assert _filler(fake, model="second").model_name == "second"
    with pytest.raises(ModelLoadError, match=r"does not serve the model 'third'; it serves: first, second"):
        _filler(fake, model="third").connect()
    fake.models = []
    with pytest.raises(ModelLoadError, match="serves no model"):
        _filler(fake).connect()


def test_fingerprint_names_the_model_and_ignores_what_changes_every_request(fake: FakeServer) -> None:
    fake.stamp_created = True
    fp = _filler(fake).fingerprint
    model_id, _, digest = fp.partition("@sha256:")
    assert model_id == "fake-7b" and len(digest) == 64 and int(digest, 16) >= 0
    assert _filler(fake).fingerprint == fp  # a second process connecting later: the same fingerprint
    fake.props = {"model_path": "/models/fake-7b-q4.gguf", "chat_template": "{{ messages }}", "total_slots": 4}
    with_props = _filler(fake).fingerprint
    assert with_props != fp  # llama.cpp's /props names the weights file: it is covered
    fake.props = {**fake.props, "total_slots": 8}
    assert _filler(fake).fingerprint == with_props  # ... but not its runtime settings
    fake.props["model_path"] = "/models/fake-7b-q8.gguf"
    assert _filler(fake).fingerprint != with_props
    other_url = RemoteFiller(fake.url.replace("127.0.0.1", "localhost"), sleep=Sleeps())
    assert other_url.fingerprint != _filler(fake).fingerprint  # another server is another fingerprint


def test_a_weights_hash_the_server_reports_is_used(fake: FakeServer) -> None:
    weights = hashlib.sha256(b"weights").hexdigest()
    fake.models = [{"id": "llama3:8b", "object": "model"}]
    fake.tags = {"models": [{"name": "other:1b", "digest": "0" * 64}, {"name": "llama3:8b", "digest": weights}]}  # Ollama's /api/tags
    assert _filler(fake).fingerprint == f"llama3:8b@sha256:{weights}"
    fake.tags = None
    fake.models = [{"id": "served", "object": "model", "meta": {"sha256": "SHA256:" + weights.upper()}}]
    assert _filler(fake).fingerprint == f"served@sha256:{weights}"
    fake.models = [{"id": "served", "object": "model", "meta": {"sha256": "not-a-hash"}}]
    assert _filler(fake).fingerprint != f"served@sha256:{weights}"


def test_a_model_swapped_under_a_running_process_is_noticed_before_anything_is_drafted(fake: FakeServer) -> None:
    fake.props = {"model_path": "/models/fake-7b-q4.gguf"}
    filler = _filler(fake)
    before = filler.fingerprint
    filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    asked = len(fake.generation_chats())
    fake.props = {"model_path": "/models/fake-7b-q8.gguf"}  # restarted on other weights under the same id
    with pytest.raises(GenerationError, match="describes the model 'fake-7b' differently than when this process connected"):
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    assert len(fake.generation_chats()) == asked  # the new weights wrote nothing under the old fingerprint
    assert filler.fingerprint != before  # the next use connects afresh
    filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    fake.models = [{"id": "fake-13b", "object": "model"}]
    with pytest.raises(GenerationError, match="does not serve the model 'fake-7b'; it serves: fake-13b"):
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    assert filler.model_name == "fake-13b"  # with no model named, the next use takes the server's first


def test_the_connected_model_is_found_again_by_id_whatever_the_order_of_the_list(fake: FakeServer) -> None:
    fake.models = [{"id": "a", "object": "model"}, {"id": "b", "object": "model"}]
    filler = _filler(fake)
    assert filler.model_name == "a"
    fake.models = [{"id": "c", "object": "model"}, *fake.models]  # Ollama lists the newest pull first
    assert len(filler.generate([PROMPT], seeds=[1], settings=SETTINGS)[0]) == 3
    fake.models = [m for m in fake.models if m["id"] != "a"]
    with pytest.raises(GenerationError, match=r"does not serve the model 'a'; it serves: c, b"):
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)


# ------------------------------------------------------------------------------ candidates
def test_n_candidates_in_one_request_when_the_server_honours_n(fake: FakeServer) -> None:
    filler = _filler(fake)
    out = filler.generate([PROMPT, OTHER], seeds=[11, 2**40 + 5], settings=SETTINGS)
    chats = fake.generation_chats()
    assert len(chats) == 2 and {c["n"] for c in chats} == {3}
    by_seed = {c["seed"]: c for c in chats}
    assert set(by_seed) == {11, wire_seed(2**40 + 5)}  # every seed fits 31 bits
    assert out[0] == [f"Welcome aboard. [11/{k}]" for k in range(3)]
    assert out[1] == [f"Thank you for being with us. [{wire_seed(2**40 + 5)}/{k}]" for k in range(3)]
    body = by_seed[11]
    assert body["messages"] == list(PROMPT.messages)  # exactly the prompt the in-process filler sends
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (SETTINGS.max_new_tokens, SETTINGS.temperature, SETTINGS.top_p)
    assert body["repeat_penalty"] == body["repetition_penalty"] == SETTINGS.repetition_penalty
    assert filler.last_stats["requests"] == 2 and filler.last_stats["generated_tokens"] == 30


def test_a_server_that_ignores_n_gets_one_request_per_candidate_with_its_own_seed(fake: FakeServer) -> None:
    fake.honours_n = False  # like llama-cpp-python's server
    filler = _filler(fake, concurrency=2)
    out = filler.generate([PROMPT], seeds=[7], settings=SETTINGS)
    chats = fake.generation_chats()
    expected = [wire_seed(candidate_seed(7, k)) for k in range(3)]
    assert sorted(c["seed"] for c in chats) == sorted(expected) and all("n" not in c for c in chats)
    assert out == [[f"Welcome aboard. [{s}/0]" for s in expected]]  # candidate k is the request seeded for k
    # The same request again gives the same requests: a resumed job asks exactly what it asked before.
    fake.seen.clear()
    assert filler.generate([PROMPT], seeds=[7], settings=SETTINGS) == out


def test_greedy_asks_for_one_deterministic_candidate(fake: FakeServer) -> None:
    out = _filler(fake).generate([PROMPT], seeds=[3], settings=SETTINGS, greedy=True)
    (body,) = fake.generation_chats()
    assert len(out[0]) == 1 and body["temperature"] == 0.0 and body["top_p"] == 1.0 and "n" not in body


def test_a_server_refusing_the_repetition_penalty_is_asked_without_it(fake: FakeServer) -> None:
    fake.refuses_penalty = True  # e.g. OpenAI itself: 400 on an unknown argument
    out = _filler(fake).generate([PROMPT], seeds=[1], settings=SETTINGS)
    assert len(out[0]) == 3
    assert all("repeat_penalty" not in c and "repetition_penalty" not in c for c in fake.generation_chats())


def test_requests_run_concurrently_up_to_the_setting(fake: FakeServer) -> None:
    # Three requests must be in flight together to pass the server's barrier; a filler sending
    # them one after another would break it (the server then answers 400 and the test fails).
    fake.barrier = threading.Barrier(3, timeout=10)
    out = _filler(fake, concurrency=3).generate([PROMPT, OTHER, PROMPT], seeds=[1, 2, 3], settings=SETTINGS)
    assert [len(c) for c in out] == [3, 3, 3]


def test_the_api_key_is_sent_as_a_bearer_token(fake: FakeServer) -> None:
    _filler(fake, api_key="sk-local-123").generate([PROMPT], seeds=[1], settings=SETTINGS)
    assert fake.seen and all(headers.get("Authorization") == "Bearer sk-local-123" for _, _, _, headers in fake.seen)


# ------------------------------------------------------------------------------ failures
def test_busy_and_failing_answers_are_retried_with_growing_pauses(fake: FakeServer) -> None:
    sleeps = Sleeps()
    filler = _filler(fake, sleep=sleeps, retries=3, backoff_base=0.5)
    filler.connect()
    fake.script.extend([("status", 503, {}), ("status", 502, {}), ("drop",)])
    out = filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    assert len(out[0]) == 3 and filler.last_stats["retries"] == 3
    assert len(sleeps) == 3 and all(0.5 * 2**i / 2 <= s <= 0.5 * 2**i for i, s in enumerate(sleeps))


def test_retry_after_is_honoured(fake: FakeServer) -> None:
    sleeps = Sleeps()
    filler = _filler(fake, sleep=sleeps)
    filler.connect()
    fake.script.append(("status", 429, {"Retry-After": "7"}))
    filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    assert sleeps == [7.0]


def test_a_refused_request_is_not_retried_and_says_why(fake: FakeServer) -> None:
    sleeps = Sleeps()
    filler = _filler(fake, sleep=sleeps)
    filler.connect()
    fake.script.append(("status", 422, {}, {"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}))
    with pytest.raises(GenerationError) as e:
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    msg = str(e.value)
    assert fake.url + "/v1" in msg and "HTTP 422" in msg and "field required" in msg
    assert sleeps == [] and len(fake.generation_chats()) == 1


def test_persistent_server_errors_give_up_after_the_retries_naming_the_url(fake: FakeServer) -> None:
    filler = _filler(fake, retries=2)
    filler.connect()
    fake.always = ("status", 500, {}, {"error": {"message": "CUDA out of memory"}})
    with pytest.raises(
        GenerationError, match=r"inference server at http://127\.0\.0\.1:\d+/v1 failed while writing: .*after 3 tries: HTTP 500: CUDA out of memory"
    ):
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    assert len(fake.generation_chats()) == 3


def test_a_server_too_slow_to_answer_times_out(fake: FakeServer) -> None:
    filler = _filler(fake, timeout=0.2, retries=1)
    filler.connect()
    fake.always = ("sleep", 1.0)
    with pytest.raises(GenerationError, match=r"after 2 tries: no answer within 0\.2 s \(ReadTimeout\)"):
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)


def test_a_server_that_is_down_is_a_model_load_error_naming_the_url() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    filler = RemoteFiller(f"http://127.0.0.1:{port}", retries=1, sleep=Sleeps())
    with pytest.raises(ModelLoadError, match=rf"inference server at http://127\.0\.0\.1:{port}/v1.*after 2 tries: could not be reached \(ConnectError"):
        _ = filler.fingerprint


def test_garbage_answers_are_clear_errors_not_tracebacks(fake: FakeServer) -> None:
    filler = _filler(fake)
    filler.connect()
    fake.script.append(("garbage", b"<html><body>502 Bad Gateway (nginx)</body></html>"))
    with pytest.raises(GenerationError, match=r"answered HTTP 200 with something that is not JSON: '<html><body>502 Bad Gateway"):
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    fake.script.append(("json", {"object": "chat.completion", "choices": []}))
    with pytest.raises(GenerationError, match="answered without choices"):
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    fake.script.append(("json", {"choices": [{"index": 0, "message": {"content": ["not", "text"]}}]}))
    with pytest.raises(GenerationError, match="without a text message"):
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    fake.script.append(("json", {"choices": [{"index": 0, "message": {"content": "only one"}}]}))
    with pytest.raises(GenerationError, match=r"answered 1 candidate\(s\) where 3 were asked for"):
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)
    fake.script.append(("json", [1, 2, 3]))
    with pytest.raises(GenerationError, match="answered without choices"):
        filler.generate([PROMPT], seeds=[1], settings=SETTINGS)


def test_a_non_json_model_list_is_a_model_load_error(fake: FakeServer) -> None:
    fake.models = "not a list"  # type: ignore[assignment]
    with pytest.raises(ModelLoadError, match="answered GET /models with no model list"):
        _filler(fake).connect()


# ------------------------------------------------------------------------------ in a job
def test_a_campaign_runs_through_the_server_and_each_draft_names_its_model(world, fake: FakeServer) -> None:  # type: ignore[no-untyped-def]
    w = world
    fake.honours_n, fake.tagged = False, False
    filler = _filler(fake)
    p = generate_campaign(w.engine, w.marketer, w.campaign_id, filler, settings=GenerationSettings(n_candidates=2))
    assert p.status == JobStatus.DONE and p.done == p.total == 4
    w.session.expire_all()
    drafts = w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id)).all()
    assert {d.model_fingerprint for d in drafts} == {filler.fingerprint}
    assert filler.fingerprint.startswith("fake-7b@sha256:")
    # 5 distinct fills (3 consenting variants x 2 slots, two share a city), 2 candidates each, one request per candidate.
    assert len(fake.generation_chats()) == 10
    served = {m["content"] for body in fake.generation_chats() for m in body["messages"] if m["role"] == "assistant"}
    model_texts = [text for d in drafts for name, text in d.slots.items() if d.slot_meta[name].get("source") == "model"]
    assert model_texts and set(model_texts) <= served
    assert all(d.status == "checked" and isinstance(d.findings, list) for d in drafts)


def test_a_server_failure_fails_the_job_with_the_reason_on_record(world, fake: FakeServer) -> None:  # type: ignore[no-untyped-def]
    w = world
    filler = _filler(fake, retries=1)
    filler.connect()
    fake.always = ("status", 503, {}, {"error": {"message": "model is loading"}})
    with pytest.raises(GenerationError):
        generate_campaign(w.engine, w.marketer, w.campaign_id, filler)
    w.session.expire_all()
    job = w.session.exec(select(GenerationJob).where(GenerationJob.campaign_id == w.campaign_id)).one()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("GenerationError: the inference server at " + fake.url + "/v1") and "model is loading" in job.error
    failed = w.session.exec(select(AuditEvent).where(AuditEvent.action == "generation_failed")).one()
    assert "model is loading" in failed.after["error"]
    assert w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id)).all() == []


def test_a_server_down_when_the_job_starts_fails_the_job_naming_the_url(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    filler = RemoteFiller(f"http://127.0.0.1:{port}/v1", retries=0, sleep=Sleeps())
    with pytest.raises(ModelLoadError):
        generate_campaign(w.engine, w.marketer, w.campaign_id, filler)
    w.session.expire_all()
    job = w.session.exec(select(GenerationJob).where(GenerationJob.campaign_id == w.campaign_id)).one()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith(f"ModelLoadError: cannot use the inference server at http://127.0.0.1:{port}/v1") and "could not be reached" in job.error
