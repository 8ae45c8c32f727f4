"""OAuth 2.0 against a real local token server and Tracking API."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from analytics_async import (
    Analytics,
    AuthError,
    ConfigError,
    ErrorEvent,
    FlushTimeoutError,
    HTTPRequestEvent,
    OAuthSettings,
)
from analytics_async.testing import FakeClock, SegmentSink, idle

from .helpers import drive, eventually, our_tasks, statuses

Answer = Callable[[web.Request, int], Awaitable[web.StreamResponse | None]]


class TokenServer:
    """A local OAuth token endpoint: records each request's form, answers by `answer` or a fresh token."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.answer: Answer | None = None
        self.expires_in: float = 3600
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Record the request; answer it."""
        self.forms.append(dict(await request.post()))  # type: ignore[arg-type]
        self.headers.append(dict(request.headers))
        n = len(self.forms)
        if self.answer is not None and (response := await self.answer(request, n)) is not None:
            return response
        return web.json_response({"access_token": f"tok-{n}", "expires_in": self.expires_in})

    async def start(self) -> None:
        """Listen on 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/token", self.handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop listening."""
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """One RSA key for the module (generating one takes tens of milliseconds)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: Any, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()  # type: ignore[no-any-return]


@pytest.fixture
async def tokens() -> AsyncIterator[TokenServer]:
    """A running TokenServer."""
    server = TokenServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def make_oauth(
    sink: SegmentSink, tokens: TokenServer, rsa_key: rsa.RSAPrivateKey
) -> Callable[..., Analytics]:
    """Analytics with OAuth pointed at the local token server and sink."""

    def make(oauth: dict[str, Any] | None = None, **settings: Any) -> Analytics:
        oauth_settings = OAuthSettings(
            client_id="client-1",
            client_key=pem(rsa_key),
            key_id="key-1",
            auth_server=tokens.url,
            **(oauth or {}),
        )
        return Analytics(write_key="wk", host=sink.url, oauth_settings=oauth_settings, **settings)

    return make


async def test_assertion_form_and_bearer(
    make_oauth: Callable[..., Analytics], sink: SegmentSink, tokens: TokenServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    """The token request has a valid RS256 assertion and the form fields; batches carry the Bearer token."""
    analytics = make_oauth()
    await analytics.track(event="E", user_id="u")
    await analytics.flush(close=True)
    (form,) = tokens.forms
    assert tokens.headers[0]["Content-Type"] == "application/x-www-form-urlencoded"
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert form["scope"] == "tracking_api:write"
    assertion = form["client_assertion"]
    header = jwt.get_unverified_header(assertion)
    assert header == {"alg": "RS256", "kid": "key-1", "typ": "JWT"}
    claims = jwt.decode(assertion, rsa_key.public_key(), algorithms=["RS256"], audience=tokens.url)
    assert claims["iss"] == claims["sub"] == "client-1"
    assert claims["aud"] == tokens.url
    assert claims["exp"] - claims["iat"] == 60
    uuid.UUID(claims["jti"])
    (batch,) = sink.batches
    assert batch.headers["Authorization"] == "Bearer tok-1"
    assert batch.body["writeKey"] == "wk"


async def test_concurrent_batches_share_one_token_request(
    make_oauth: Callable[..., Analytics], sink: SegmentSink, tokens: TokenServer
) -> None:
    """Five batches waiting for a token cause exactly one token request."""
    release = asyncio.Event()

    async def slow(request: web.Request, n: int) -> None:
        await release.wait()

    tokens.answer = slow
    analytics = make_oauth(flush_at=1, max_in_flight=5)
    for _ in range(5):
        await analytics.track(event="E", user_id="u")
        await idle()  # one by one: five batches, each waiting for the token
    await eventually(lambda: len(tokens.forms) == 1)
    await idle()  # a second token request now would have arrived
    release.set()
    await analytics.flush(close=True)
    assert len(tokens.forms) == 1
    assert [b.headers["Authorization"] for b in sink.batches] == ["Bearer tok-1"] * 5


async def test_refresh_at_half_lifetime(
    make_oauth: Callable[..., Analytics], sink: SegmentSink, tokens: TokenServer, clock: FakeClock
) -> None:
    """A token of 100 s is refreshed in the background at 50 s; later batches use the new one."""
    tokens.expires_in = 100
    analytics = make_oauth(clock=clock)
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    await clock.advance(49)
    assert len(tokens.forms) == 1
    await clock.advance(1)
    await eventually(lambda: len(tokens.forms) == 2)
    await analytics.track(event="E", user_id="u")
    await analytics.flush(close=True)
    assert [b.headers["Authorization"] for b in sink.batches] == ["Bearer tok-1", "Bearer tok-2"]


async def test_token_429_waits_retry_after(
    make_oauth: Callable[..., Analytics], sink: SegmentSink, tokens: TokenServer, clock: FakeClock
) -> None:
    """A 429 from the token server waits its Retry-After before asking again."""
    tokens.answer = statuses(429, headers={"Retry-After": "3"})
    analytics = make_oauth(clock=clock)
    ctx = await analytics.track(event="E", user_id="u")
    flushing = asyncio.ensure_future(analytics.flush())
    await eventually(lambda: len(tokens.forms) == 1)
    await clock.advance(2.9)  # runs the loop until idle: a token request now would have arrived
    assert len(tokens.forms) == 1
    await clock.advance(0.1)
    await drive(clock, flushing)
    assert len(tokens.forms) == 2
    assert await ctx.delivered()
    await analytics.flush(close=True)


@pytest.mark.parametrize("status", [400, 401, 415])
async def test_final_token_failure(
    make_oauth: Callable[..., Analytics], sink: SegmentSink, tokens: TokenServer, status: int
) -> None:
    """400, 401 and 415 from the token server fail the waiting events with AuthError, once asked."""
    tokens.answer = statuses(then=status)
    analytics = make_oauth(flush_at=2)
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    ctxs = [await analytics.track(event="E", user_id="u") for _ in range(2)]
    await analytics.flush(close=True)
    assert len(tokens.forms) == 1
    assert sink.requests == 0
    assert [e.code for e in errors] == ["delivery_failure"] * 2
    for ctx in ctxs:
        failure = ctx.failed_delivery()
        assert failure is not None
        assert isinstance(failure.reason, AuthError)
        assert f"[{status}]" in str(failure.reason)


async def test_retried_token_failure(
    make_oauth: Callable[..., Analytics], sink: SegmentSink, tokens: TokenServer, clock: FakeClock
) -> None:
    """Other token failures are retried with backoff up to the OAuth max_retries, then AuthError."""
    tokens.answer = statuses(then=500)
    analytics = make_oauth({"max_retries": 3}, clock=clock)
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    ctx = await analytics.track(event="E", user_id="u")
    await drive(clock, asyncio.ensure_future(analytics.flush()), step=0.1)
    assert len(tokens.forms) == 3
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, AuthError)
    assert "[500]" in str(failure.reason)
    assert errors[0].reason is failure.reason
    await analytics.flush(close=True)


async def test_malformed_token_response(make_oauth: Callable[..., Analytics], tokens: TokenServer) -> None:
    """A 200 without access_token/expires_in is an AuthError that says so."""

    async def malformed(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response({"token": "x"})

    tokens.answer = malformed
    analytics = make_oauth()
    ctx = await analytics.track(event="E", user_id="u")
    await analytics.flush(close=True)
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, AuthError)
    assert "access_token and expires_in" in str(failure.reason)


async def test_token_cleared_after_401(
    make_oauth: Callable[..., Analytics], sink: SegmentSink, tokens: TokenServer
) -> None:
    """A 401 from the Tracking API drops the token: the next batch gets a new one."""
    sink.responder = statuses(401)
    analytics = make_oauth(max_in_flight=1)
    first = await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert first.failed_delivery() is not None
    await analytics.track(event="E", user_id="u")
    await analytics.flush(close=True)
    assert len(tokens.forms) == 2
    assert [b.headers["Authorization"] for b in sink.batches] == ["Bearer tok-2"]


async def test_511_is_retried_with_oauth(
    make_oauth: Callable[..., Analytics], sink: SegmentSink, tokens: TokenServer, clock: FakeClock
) -> None:
    """With OAuth on, a 511 clears the token and is retried; the event arrives with a new token."""
    sink.responder = statuses(511)
    analytics = make_oauth(clock=clock)
    ctx = await analytics.track(event="E", user_id="u")
    await drive(clock, asyncio.ensure_future(analytics.flush()))
    assert await ctx.delivered()
    assert [b.headers["Authorization"] for b in sink.batches] == ["Bearer tok-2"]
    await analytics.flush(close=True)


async def test_close_timeout_ends_a_hanging_token_request(
    make_oauth: Callable[..., Analytics], tokens: TokenServer, clock: FakeClock
) -> None:
    """A closing flush out of time fails events waiting for a token and leaves nothing running."""
    release = asyncio.Event()

    async def hang(request: web.Request, n: int) -> None:
        await release.wait()

    tokens.answer = hang
    analytics = make_oauth(clock=clock)
    ctx = await analytics.track(event="E", user_id="u")
    closing = asyncio.ensure_future(analytics.flush(close=True, timeout=2))
    await eventually(lambda: len(tokens.forms) == 1)
    await clock.advance(2)
    await asyncio.wait_for(closing, 1)
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, FlushTimeoutError)
    assert our_tasks() == []
    assert not [t for t in asyncio.all_tasks() if "_acquire" in repr(t.get_coro()) and not t.done()]
    release.set()


def test_pkcs1_keys_are_accepted(rsa_key: rsa.RSAPrivateKey) -> None:
    """A PKCS#1 ('BEGIN RSA PRIVATE KEY') key is accepted as well as PKCS#8."""
    key = pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)
    assert key.startswith("-----BEGIN RSA PRIVATE KEY-----")
    Analytics(write_key="k", oauth_settings=OAuthSettings(client_id="c", client_key=key, key_id="k"))


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"client_key": "Garbage"}, "oauth_settings.client_key"),
        ({"client_key": pem(ec.generate_private_key(ec.SECP256R1()))}, "oauth_settings.client_key"),
        ({"client_id": ""}, "oauth_settings.client_id"),
        ({"key_id": ""}, "oauth_settings.key_id"),
        ({"auth_server": "oauth2.segment.io"}, "oauth_settings.auth_server"),
        ({"max_retries": -1}, "oauth_settings.max_retries"),
    ],
)
def test_bad_oauth_settings(rsa_key: rsa.RSAPrivateKey, change: dict[str, Any], setting: str) -> None:
    """A key that is not a usable RSA private key, or another bad OAuth setting, is a ConfigError."""
    values: dict[str, Any] = {"client_id": "c", "client_key": pem(rsa_key), "key_id": "k", **change}
    with pytest.raises(ConfigError) as info:
        Analytics(write_key="k", oauth_settings=OAuthSettings(**values))
    assert info.value.setting == setting
    assert "PRIVATE KEY-----" not in str(info.value)


def test_encrypted_key_is_a_config_error(rsa_key: rsa.RSAPrivateKey) -> None:
    """A password-protected key cannot be used and says so at construction."""
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    ).decode()
    with pytest.raises(ConfigError, match="client_key"):
        Analytics(
            write_key="k", oauth_settings=OAuthSettings(client_id="c", client_key=encrypted, key_id="k")
        )


async def test_secrets_never_shown(
    make_oauth: Callable[..., Analytics],
    rsa_key: rsa.RSAPrivateKey,
    tokens: TokenServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The private key, assertion and token appear in no repr, emitted event or log line."""
    caplog.set_level(logging.DEBUG)
    analytics = make_oauth()
    requests: list[HTTPRequestEvent] = []
    analytics.on("http_request", requests.append)
    await analytics.track(event="E", user_id="u")
    await analytics.flush(close=True)
    settings = OAuthSettings(client_id="c", client_key=pem(rsa_key), key_id="k")
    shown = " ".join(
        [repr(settings), repr(analytics), repr(analytics._runtime._tokens), repr(requests), caplog.text]
    )
    assert "PRIVATE KEY" not in shown
    assert "tok-1" not in shown
    assert tokens.forms[0]["client_assertion"] not in shown
    assert requests[0].headers["Authorization"] == "<redacted>"


@pytest.mark.slow
def test_no_oauth_no_crypto_import() -> None:
    """Without OAuth, importing and using the library loads neither pyjwt nor cryptography."""
    code = (
        "import sys, analytics_async\n"
        "analytics_async.Analytics(write_key='k')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jwt', 'cryptography')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.replace("'", '"')) == []


async def test_zero_retries_is_legal_with_oauth(
    make_oauth: Callable[..., Analytics], sink: SegmentSink, tokens: TokenServer
) -> None:
    """Analytics(max_retries=0) with OAuth constructs and delivers: the token is still asked for once."""
    analytics = make_oauth(max_retries=0)
    ctx = await analytics.track(event="E", user_id="u")
    await analytics.flush(close=True)
    assert await ctx.delivered(timeout=0) is True
    assert len(tokens.forms) == 1


def test_oauth_without_the_extra_names_it(
    rsa_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OAuth configured without pyjwt/cryptography installed: a ConfigError naming the oauth extra."""
    monkeypatch.setitem(sys.modules, "jwt", None)  # as if not installed
    settings = OAuthSettings(client_id="c", client_key=pem(rsa_key), key_id="k")
    with pytest.raises(ConfigError, match=r"analytics-async\[oauth\]"):
        Analytics(write_key="wk", oauth_settings=settings)
