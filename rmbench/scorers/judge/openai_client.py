"""A minimal client for OpenAI-compatible chat-completions servers (vLLM, llama.cpp, SGLang).

Standard library only (``urllib``): one POST per request to ``{base_url}/chat/completions``,
safe to call from many threads at once (the caller bounds concurrency). What it adds over a
bare POST is what a long judging run needs:

* **retries** with exponential backoff (``backoff · 2^attempt`` seconds, at most
  ``MAX_BACKOFF``) on 429, 5xx, timeouts and refused or reset connections; a ``Retry-After``
  header in seconds is honoured instead when the server sends one. Other 4xx are the caller's
  mistake (wrong model name, bad key) and fail at once;
* a **timeout** per attempt (the socket timeout of ``urllib``);
* **token usage** from the reply's ``usage`` object;
* with ``top_logprobs`` set, the reply's tokens and each token's most likely alternatives
  (``logprobs: true, top_logprobs: k`` in the request), for soft verdicts (:mod:`.soft`).

:class:`OpenAIBackend` runs many requests through one client with bounded concurrency.

The API key is sent as a bearer token and kept only in this object: it never appears in an
error message, a repr or anything the scorer reports.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rmbench.errors import ScoringError
from rmbench.scorers.judge.soft import SoftTarget

MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class ChatResult:
    """The judge's reply text and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int  # 1 + retries
    # With logprobs: the reply's tokens (their texts joined are the reply) and, per token, the
    # log-probabilities of the chosen token and its top alternatives, by token text.
    pieces: tuple[str, ...] = ()
    alternatives: tuple[dict[str, float], ...] = ()


@dataclass(frozen=True)
class ClientSettings:
    base_url: str
    model: str
    timeout: float = 120.0
    max_retries: int = 5
    backoff: float = 1.0
    seed: int = 0
    max_tokens: int = 1024
    top_logprobs: int | None = None  # ask for logprobs (soft verdicts)
    api_key: str | None = field(default=None, repr=False)


class _Retryable(Exception):
    def __init__(self, why: str, wait: float | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.wait = wait


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: fall back to exponential backoff
    return max(0.0, min(seconds, MAX_BACKOFF))


def _body_excerpt(error: urllib.error.HTTPError) -> str:
    try:
        text = error.read().decode("utf-8", "replace")
    except Exception:
        return ""
    return " ".join(text.split())[:200]


class ChatClient:
    """Sends chat-completions requests with temperature 0 and a fixed seed."""

    def __init__(self, settings: ClientSettings, cancel: threading.Event | None = None) -> None:
        self.settings = settings
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        # Set by the owner to stop: no new attempt starts and backoff waits end at once.
        self.cancel = cancel or threading.Event()

    def body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """The request body: deterministic decoding, so a rerun asks the same question."""
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "temperature": 0,
            "seed": self.settings.seed,
            "max_tokens": self.settings.max_tokens,
        }
        if self.settings.top_logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = self.settings.top_logprobs
        return body

    def complete(self, messages: list[dict[str, str]]) -> ChatResult:
        """One completion, retried on transient failures; a :class:`ScoringError` otherwise."""
        payload = json.dumps(self.body(messages)).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        attempt = 0
        while True:
            attempt += 1
            if self.cancel.is_set():
                raise ScoringError(f"judge server {self.url}: request cancelled")
            try:
                return self._attempt(payload, headers, attempt)
            except _Retryable as failure:
                if attempt > self.settings.max_retries:
                    raise ScoringError(
                        f"judge server {self.url}: {failure.why}, still after "
                        f"{self.settings.max_retries} retries; judgements made so far are kept "
                        "in the cache"
                    ) from None
                wait = failure.wait
                if wait is None:
                    wait = min(self.settings.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
                if self.cancel.wait(wait):
                    raise ScoringError(f"judge server {self.url}: request cancelled") from None

    def _attempt(self, payload: bytes, headers: dict[str, str], attempt: int) -> ChatResult:
        request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 429 or 500 <= error.code < 600:
                raise _Retryable(f"HTTP {error.code}", _retry_after(error.headers)) from None
            excerpt = _body_excerpt(error)
            if self.settings.api_key:  # some APIs quote the key they rejected
                excerpt = excerpt.replace(self.settings.api_key, "***")
            raise ScoringError(
                f"judge server {self.url} refused the request: HTTP {error.code} {excerpt}".rstrip()
            ) from None
        except TimeoutError:  # socket.timeout is TimeoutError
            raise _Retryable(f"no reply within {self.settings.timeout:g} s") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise _Retryable(f"no reply within {self.settings.timeout:g} s") from None
            raise _Retryable(f"cannot connect ({error.reason})") from None
        except (ConnectionError, http.client.HTTPException) as error:
            raise _Retryable(f"connection failed ({type(error).__name__})") from None
        return self._parse(raw, attempt)

    def _parse(self, raw: bytes, attempt: int) -> ChatResult:
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            usage = data.get("usage") or {}
            pieces, alternatives = self._logprobs(choice)
            return ChatResult(
                text=str(text),
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                attempts=attempt,
                pieces=pieces,
                alternatives=alternatives,
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            excerpt = " ".join(raw[:200].decode("utf-8", "replace").split())
            raise ScoringError(
                f"judge server {self.url} answered with something that is not a chat completion: "
                f"{excerpt!r}"
            ) from None

    def _logprobs(
        self, choice: dict[str, Any]
    ) -> tuple[tuple[str, ...], tuple[dict[str, float], ...]]:
        """Tokens and alternatives from ``choice.logprobs.content`` (empty unless requested;
        a reply without them then has no soft verdict, which the scorer counts)."""
        if self.settings.top_logprobs is None:
            return (), ()
        content = (choice.get("logprobs") or {}).get("content") or []
        pieces: list[str] = []
        alternatives: list[dict[str, float]] = []
        for entry in content:
            token = str(entry["token"])
            options = {
                str(alt["token"]): float(alt["logprob"]) for alt in entry.get("top_logprobs") or []
            }
            options.setdefault(token, float(entry["logprob"]))
            pieces.append(token)
            alternatives.append(options)
        return tuple(pieces), tuple(alternatives)


Key = TypeVar("Key")


class OpenAIBackend:
    """Sends judge requests to a server, at most ``concurrency`` at a time."""

    def __init__(self, client: ChatClient, concurrency: int) -> None:
        self.client = client
        self.concurrency = concurrency

    def run(
        self, jobs: Iterable[tuple[Key, list[dict[str, str]]]], soft: SoftTarget | None = None
    ) -> Iterator[tuple[Key, ChatResult]]:
        """Replies to ``jobs`` (key, messages) as they arrive, in any order. ``soft`` is not
        needed here: with soft verdicts the client asks the server for the top alternatives at
        every token, and the scorer reads the verdict position from them.

        Requests are submitted a few at a time rather than all up front, so memory stays flat on
        large suites, comparison sets finish roughly in order, and a failure leaves little
        queued. On an error or Ctrl-C, queued requests never start, retries stop waiting, and
        only requests already on the wire (at most ``concurrency``) are waited for.
        """
        self.client.cancel.clear()
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        window = 4 * self.concurrency
        source = iter(jobs)
        pending: dict[Future[ChatResult], Key] = {}
        exhausted = False
        try:
            while pending or not exhausted:
                while not exhausted and len(pending) < window:
                    job = next(source, None)
                    if job is None:
                        exhausted = True
                        break
                    pending[pool.submit(self.client.complete, job[1])] = job[0]
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    key = pending.pop(future)
                    # a ScoringError ends the run here; sets already yielded are in the cache
                    yield key, future.result()
        finally:
            self.client.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
