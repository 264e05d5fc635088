"""A slot filler that asks an OpenAI-compatible inference server (vLLM, llama.cpp's server,
llama-cpp-python, TGI, Ollama) instead of running the model in this process.

- The prompts are exactly the ones the in-process filler sends (review.filling.prompts): the
  same chat messages, posted to /v1/chat/completions; the server applies its model's chat template.
- A prompt's candidates come from one request with `n` where the server honours it, else from
  one request per candidate, candidate k seeded with candidate_seed(seed, k) as in-process.
- The filler connects lazily, on first use (its fingerprint or a generate): a server that is
  down makes the generation job fail with one clear sentence, not the page that started it.
- Connecting learns which model the server serves and how it answers (`n`, the repetition
  penalty), and fingerprints it (ServerModel.fingerprint); every later generate checks that the
  server still serves that model, so a draft never carries the fingerprint of weights it did
  not come from.

What a remote server can and cannot promise about reproducing a draft is in the README
("An inference server").
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2

from review.config import settings as app_settings
from review.errors import ConfigError, GenerationError, ModelLoadError

from .base import SlotFiller, candidate_seed, check_args
from .prompts import Prompt
from .remote_http import ServerClient, ServerError, one_line
from .remote_identity import PROPS_KEYS, Identity, ServerModel, api_base, fingerprint_of, reported_sha256, server_root, stable_entry, wire_seed
from .settings import GenerationSettings

log = logging.getLogger(__name__)

_PROBE_MESSAGES = [{"role": "user", "content": "Reply with the word OK."}]


class RemoteFiller(SlotFiller):
    """Slot filler backed by an OpenAI-compatible chat-completions server."""

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        concurrency: int = 4,
        timeout: float = 120.0,
        retries: int = 3,
        backoff_base: float = 0.5,
        transport: httpx2.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = api_base(url)
        self.wanted_model = model
        self.concurrency = max(1, int(concurrency))
        self.client = ServerClient(
            self.url,
            api_key=api_key,
            timeout=timeout,
            retries=retries,
            connections=self.concurrency,
            backoff_base=backoff_base,
            transport=transport,
            sleep=sleep,
        )
        self._server: ServerModel | None = None
        self._lock = threading.Lock()
        self.last_stats: dict[str, float] = {}

    # --------------------------------------------------------------------------- identity
    @property  # the base class has a plain attribute; here it is learnt from the server
    def fingerprint(self) -> str:
        return self.connect().fingerprint

    @fingerprint.setter
    def fingerprint(self, value: str) -> None:
        raise AttributeError("a remote filler's fingerprint comes from its server")

    @property
    def model_name(self) -> str:
        return self.connect().identity.model_id

    @model_name.setter
    def model_name(self, value: str) -> None:
        raise AttributeError("a remote filler's model name comes from its server")

    def connect(self) -> ServerModel:
        """Find the model, learn how the server answers, fingerprint it (once; again after a change)."""
        return self._connect()[0]

    def _connect(self) -> tuple[ServerModel, bool]:
        """(the connection, whether this call made it)."""
        with self._lock:
            if self._server is not None:
                return self._server, False
            try:
                identity = self._identify(self.wanted_model)
                native_n, penalty = self._probe(identity.model_id)
            except ServerError as e:
                raise ModelLoadError(f"cannot use the inference server at {self.url}: {e}") from None
            self._server = ServerModel(identity, native_n, penalty, fingerprint_of(self.url, identity, native_n, penalty))
            log.info("inference server %s: model %s, n %s, repetition penalty %s", self.url, self._server.fingerprint, native_n, penalty)
            return self._server, True

    def _identify(self, wanted: str | None) -> Identity:
        """The served model `wanted` (None: the server's first) as the server describes it."""
        listing = self.client.get_json("models")
        data = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(data, list) or not all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in data):
            raise ModelLoadError(f"the inference server at {self.url} answered GET /models with no model list: {one_line(json.dumps(listing), 160)}")
        if not data:
            raise ModelLoadError(f"the inference server at {self.url} serves no model (its /models list is empty)")
        ids = [m["id"] for m in data]
        if wanted is None:
            entry = data[0]
        elif wanted in ids:
            entry = data[ids.index(wanted)]
        else:
            raise ModelLoadError(f"the inference server at {self.url} does not serve the model {wanted!r}; it serves: {', '.join(ids)}")
        root = server_root(self.url)
        props = self.client.get_optional_json(root + "/props")
        kept = {k: props[k] for k in PROPS_KEYS if k in props} if isinstance(props, dict) else {}
        tags = None
        reported = reported_sha256(entry, None, entry["id"])
        if reported is None:
            tags = self.client.get_optional_json(root + "/api/tags")
            reported = reported_sha256(entry, tags, entry["id"])
        return Identity(entry["id"], stable_entry(entry), kept or None, reported)

    def _probe(self, model_id: str) -> tuple[bool, bool]:
        """(honours n, accepts a repetition penalty), asked with one-token requests. A refusal
        (4xx) of an extra only means 'not supported'; the plain request must then succeed."""
        base = {"model": model_id, "messages": _PROBE_MESSAGES, "max_tokens": 1, "temperature": 1.0, "seed": 1}
        native_n = penalty = False
        try:
            native_n = len(self._texts(self.client.post_json("chat/completions", {**base, "n": 2}))) >= 2
        except ServerError as e:
            if not e.refused:
                raise
        try:
            self._choices(self.client.post_json("chat/completions", {**base, "repeat_penalty": 1.1, "repetition_penalty": 1.1}), 1)
            penalty = True
        except ServerError as e:
            if not e.refused:
                raise
            self._choices(self.client.post_json("chat/completions", base), 1)
        return native_n, penalty

    def _check_still_served(self, server: ServerModel) -> None:
        """Fail (and forget the connection) when the server now serves other weights than the
        ones the fingerprint names; the next use connects afresh and fingerprints them. The model
        connected to is looked for by id, so a server listing its models in another order is fine."""
        try:
            now = self._identify(server.identity.model_id)
        except ServerError as e:
            raise GenerationError(f"the inference server at {self.url} failed: {e}") from None
        except ModelLoadError as e:
            with self._lock:
                self._server = None
            raise GenerationError(str(e)) from None
        if now != server.identity:
            with self._lock:
                self._server = None
            raise GenerationError(
                f"the inference server at {self.url} describes the model {now.model_id!r} differently than when this process connected "
                "(other weights, template or build); nothing was drafted with it: run the generation again to use it under its new fingerprint"
            )

    # --------------------------------------------------------------------------- generation
    def _choices(self, data: Any, expected: int) -> list[str]:
        """The first `expected` candidates' texts from a chat-completions answer; fewer is an error."""
        texts = self._texts(data)
        if len(texts) < expected:
            raise ServerError(f"POST {self.client.url('chat/completions')} answered {len(texts)} candidate(s) where {expected} were asked for")
        return texts[:expected]

    def _texts(self, data: Any) -> list[str]:
        """Every candidate's text in a chat-completions answer, in choice order. A missing content
        (a model that wrote nothing) is an empty candidate; any other shape is garbage."""
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices:
            raise ServerError(f"POST {self.client.url('chat/completions')} answered without choices: {one_line(json.dumps(data), 160)}")
        ordered = sorted(enumerate(choices), key=lambda ic: ic[1].get("index", ic[0]) if isinstance(ic[1], dict) else ic[0])
        texts = []
        for _, choice in ordered:
            message = choice.get("message") if isinstance(choice, dict) else None
            content = message.get("content", "") if isinstance(message, dict) else None
            if content is None:
                content = ""
            if not isinstance(content, str):
                raise ServerError(f"POST {self.client.url('chat/completions')} answered a choice without a text message: {one_line(json.dumps(choice), 160)}")
            texts.append(content)
        return texts

    def _body(self, server: ServerModel, prompt: Prompt, seed: int, n: int, settings: GenerationSettings, greedy: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": server.identity.model_id,
            "messages": [dict(m) for m in prompt.messages],
            "max_tokens": settings.max_new_tokens,
            "temperature": 0.0 if greedy else settings.temperature,
            "top_p": 1.0 if greedy else settings.top_p,
            "seed": wire_seed(seed),
            "stream": False,
        }
        if n > 1:
            body["n"] = n
        if server.penalty and settings.repetition_penalty != 1.0:
            # llama.cpp's name and vLLM's; each server ignores the other's.
            body["repeat_penalty"] = body["repetition_penalty"] = settings.repetition_penalty
        return body

    def generate(self, prompts: Sequence[Prompt], *, seeds: Sequence[int], settings: GenerationSettings, greedy: bool = False) -> list[list[str]]:
        check_args(prompts, seeds)
        if not prompts:
            return []
        n = 1 if greedy else settings.n_candidates
        server, fresh = self._connect()
        if not fresh:
            self._check_still_served(server)
        # (prompt index, candidates this request returns, request body)
        calls: list[tuple[int, int, dict[str, Any]]] = []
        for i, (prompt, seed) in enumerate(zip(prompts, seeds, strict=True)):
            if server.native_n or n == 1:
                calls.append((i, n, self._body(server, prompt, int(seed), n, settings, greedy)))
            else:
                calls += [(i, 1, self._body(server, prompt, candidate_seed(int(seed), k), 1, settings, greedy)) for k in range(n)]
        sent, retried = self.client.requests, self.client.retried
        results: list[list[str]] = [[] for _ in prompts]
        usage = {"generated_tokens": 0.0, "prompt_tokens": 0.0}
        usage_lock = threading.Lock()

        def one(call: tuple[int, int, dict[str, Any]]) -> list[str]:
            answer = self.client.post_json("chat/completions", call[2])
            counts = answer.get("usage") if isinstance(answer, dict) else None
            if isinstance(counts, dict):
                with usage_lock:
                    usage["generated_tokens"] += float(counts.get("completion_tokens") or 0)
                    usage["prompt_tokens"] += float(counts.get("prompt_tokens") or 0)
            return self._choices(answer, call[1])

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(calls)), thread_name_prefix="remote-filler") as pool:
            futures: list[Future[list[str]]] = [pool.submit(one, call) for call in calls]
            try:
                for (i, _, _), future in zip(calls, futures, strict=True):
                    results[i].extend(future.result())
            except ServerError as e:
                for f in futures:
                    f.cancel()
                raise GenerationError(f"the inference server at {self.url} failed while writing: {e}") from None
        self.last_stats = {
            **usage,
            "rows": float(len(prompts) * n),
            "requests": float(self.client.requests - sent),
            "retries": float(self.client.retried - retried),
            "seconds": time.perf_counter() - started,
        }
        return results

    def close(self) -> None:
        self.client.close()


def remote_requested(model_path: str | Path | None) -> bool:
    """Whether load_filler should use the inference server: COUNTERSIGN_MODEL_URL is set and no
    other local model was asked for explicitly (the CLI's --model still picks a local one)."""
    cfg = app_settings()
    if not cfg.model_url:
        return False
    if not model_path:
        return True
    return cfg.model_path is not None and Path(model_path).expanduser() == Path(cfg.model_path).expanduser()


_fillers: dict[tuple[Any, ...], RemoteFiller] = {}
_fillers_lock = threading.Lock()


def load_remote_filler() -> RemoteFiller:
    """The process-wide filler for the configured server (created once; it connects on first use)."""
    cfg = app_settings()
    if not cfg.model_url:
        raise ConfigError("COUNTERSIGN_MODEL_URL is not set; set it to the inference server's base URL, e.g. http://127.0.0.1:8000/v1")
    key_hash = hashlib.sha256((cfg.model_api_key or "").encode()).hexdigest()
    key = (api_base(cfg.model_url), cfg.model_name, key_hash, cfg.model_concurrency, cfg.model_timeout, cfg.model_retries)
    with _fillers_lock:
        filler = _fillers.get(key)
        if filler is None:
            filler = RemoteFiller(
                cfg.model_url,
                model=cfg.model_name,
                api_key=cfg.model_api_key,
                concurrency=cfg.model_concurrency,
                timeout=cfg.model_timeout,
                retries=cfg.model_retries,
            )
            _fillers[key] = filler
        return filler
