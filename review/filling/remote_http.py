"""HTTP to an OpenAI-compatible inference server: one pooled client, retries with backoff, and
every failure turned into one sentence that names the URL and what went wrong.

What is retried, and what is not:
- a dropped or refused connection, a timeout, HTTP 429 (busy) and 5xx (except 501/505, which
  say the server will never do it): transient, so they are tried again after an exponential,
  jittered pause (or the server's Retry-After, capped), `retries` more times;
- any other 4xx: the request itself is wrong (bad model name, bad key, a field the server
  refuses); sending it again cannot help, so it fails at once with the server's own words;
- a 200 whose body is not JSON: a proxy's page or a different service on that port; it fails
  at once, quoting the start of what came back.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2

log = logging.getLogger(__name__)

BACKOFF_CAP_SECONDS = 8.0  # the longest pause of our own between two tries
RETRY_AFTER_CAP_SECONDS = 60.0  # the longest pause a server's Retry-After may ask for
_NEVER_RETRIED_5XX = (501, 505)
_DETAIL_CHARS = 300


class ServerError(Exception):
    """A request that failed for good. `status`: the HTTP status (None: no answer at all)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def refused(self) -> bool:
        """The server answered and refused the request itself (a 4xx other than 429)."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429


def one_line(text: str, limit: int = _DETAIL_CHARS) -> str:
    """Server text fit for an error message: one line, capped."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_detail(response: httpx2.Response) -> str:
    """The server's own explanation: OpenAI's {"error": {"message": ...}}, FastAPI's {"detail": ...}, or the text."""
    try:
        data = response.json()
    except ValueError:
        return one_line(response.text)
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return one_line(str(err["message"]))
        for key in ("error", "detail", "message"):
            if data.get(key):
                value = data[key]
                return one_line(value if isinstance(value, str) else json.dumps(value))
    return one_line(json.dumps(data))


def retry_after_seconds(response: httpx2.Response) -> float | None:
    """The Retry-After header as seconds (a number or an HTTP date), capped; None when absent or unreadable."""
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)


def should_retry(status: int) -> bool:
    return status == 429 or (status >= 500 and status not in _NEVER_RETRIED_5XX)


class ServerClient:
    """A pooled HTTP client for one server. Thread-safe: the filler sends requests from a pool.

    `transport` and `sleep` exist for tests (a mock transport, a recorded pause)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        connections: int = 4,
        backoff_base: float = 0.5,
        transport: httpx2.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff_base = float(backoff_base)
        self._sleep = sleep
        headers = {"Accept": "application/json", "User-Agent": "countersign-remote-filler"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx2.Client(
            headers=headers,
            # Connecting should be quick; the answer may take the whole budget (a long queue on the server).
            timeout=httpx2.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            limits=httpx2.Limits(max_connections=max(1, connections), max_keepalive_connections=max(1, connections)),
            transport=transport,
            follow_redirects=False,
        )
        self._count_lock = threading.Lock()
        self.requests = 0  # requests sent, retries included
        self.retried = 0  # of which retries

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def close(self) -> None:
        self._client.close()

    def get_json(self, path: str) -> Any:
        """GET a JSON document; any failure is a ServerError."""
        return self._request("GET", self.url(path), None, optional=False)

    def get_optional_json(self, url: str) -> Any | None:
        """GET a JSON document the server may not have (llama.cpp's /props, Ollama's /api/tags).

        None when the server says it has no such thing (a 4xx) or answers with something that is
        not JSON; a server that is down or failing still raises, so what the filler learns about
        its model never depends on a passing hiccup."""
        return self._request("GET", url, None, optional=True)

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        return self._request("POST", self.url(path), body, optional=False)

    def _pause(self, attempt: int, asked: float | None) -> float:
        ours = min(BACKOFF_CAP_SECONDS, self.backoff_base * (2**attempt))
        ours = random.uniform(ours / 2, ours)  # jitter: concurrent requests do not retry in lockstep
        return max(ours, asked) if asked is not None else ours

    def _request(self, method: str, url: str, body: dict[str, Any] | None, *, optional: bool) -> Any:
        tries = self.retries + 1
        problem = ""
        status: int | None = None
        for attempt in range(tries):
            asked: float | None = None
            with self._count_lock:
                self.requests += 1
                self.retried += 1 if attempt else 0
            try:
                response = self._client.request(method, url, json=body)
            except httpx2.TimeoutException as e:
                problem, status = f"no answer within {self.timeout:g} s ({type(e).__name__})", None
            except httpx2.TransportError as e:
                problem, status = f"could not be reached ({type(e).__name__}: {one_line(str(e)) or 'no detail'})", None
            else:
                status = response.status_code
                if should_retry(status):
                    problem, asked = f"HTTP {status}: {error_detail(response)}", retry_after_seconds(response)
                elif status >= 300:
                    if optional and 300 <= status < 500:
                        return None
                    raise ServerError(f"{method} {url} was refused with HTTP {status}: {error_detail(response)}", status=status)
                else:
                    try:
                        return response.json()
                    except ValueError:
                        if optional:
                            return None
                        raise ServerError(
                            f"{method} {url} answered HTTP {status} with something that is not JSON: {one_line(response.text, 120)!r}", status=status
                        ) from None
            if attempt + 1 < tries:
                pause = self._pause(attempt, asked)
                log.warning("%s %s: %s; try %d of %d in %.1f s", method, url, problem, attempt + 2, tries, pause)
                self._sleep(pause)
        raise ServerError(f"{method} {url} failed after {tries} {'try' if tries == 1 else 'tries'}: {problem}", status=status)
