"""Delivery over real HTTPS: a local server with a certificate from a test CA (trustme)."""

from __future__ import annotations

import logging
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from analytics_async import Analytics, CertificateError, ConfigError
from analytics_async._delivery import trust
from analytics_async.sync import Client
from analytics_async.testing import RecordingClient, SegmentSink

from .helpers import sink_in_thread


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A certificate authority of this test run only: no system trusts it."""
    return trustme.CA()


@pytest.fixture
def trusting(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts the test CA (and nothing else)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
async def tls_sink(ca: trustme.CA) -> AsyncIterator[SegmentSink]:
    """A SegmentSink serving HTTPS on 127.0.0.1 with a certificate the test CA issued."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    sink = SegmentSink()
    await sink.start(ssl_context=server)
    yield sink
    await sink.stop()


async def test_events_arrive_over_https_with_an_ssl_context(
    tls_sink: SegmentSink, trusting: ssl.SSLContext
) -> None:
    """ssl= a context trusting the server's CA: verified TLS, every event delivered."""
    assert tls_sink.url.startswith("https://127.0.0.1:")
    async with Analytics(write_key="k", host=tls_sink.url, ssl=trusting) as analytics:
        contexts = [await analytics.track(event=f"E{i}", user_id="u") for i in range(5)]
        await analytics.flush()
    assert [await ctx.delivered() for ctx in contexts] == [True] * 5
    assert [e["event"] for e in tls_sink.events] == [f"E{i}" for i in range(5)]


async def test_an_untrusted_certificate_is_one_final_failure(
    tls_sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """Verification is on by default: the test CA is not trusted, so the event fails at once.

    One attempt (not ten retries as if the network were down), a reason naming certificate
    verification and the host, and one log line without a traceback or the write key.
    """
    attempts: list[object] = []
    analytics = Analytics(write_key="secret-key", host=tls_sink.url, max_retries=10)
    analytics.on("http_request", attempts.append)
    ctx = await analytics.track(event="E", user_id="u")
    await analytics.flush(close=True, timeout=30)
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, CertificateError)
    port = tls_sink.url.rsplit(":", 1)[1]
    assert str(failure.reason).startswith(f"certificate verification failed for 127.0.0.1:{port}: ")
    assert "self-signed certificate" in str(failure.reason) or "local issuer" in str(failure.reason)
    assert (len(attempts), analytics.stats().retries, tls_sink.requests) == (1, 0, 0)
    logged = [r for r in caplog.records if r.name == "analytics_async" and r.levelno >= logging.WARNING]
    assert len(logged) == 1, caplog.text
    assert "certificate verification failed" in logged[0].getMessage()
    assert "Traceback" not in caplog.text
    assert "secret-key" not in caplog.text


async def test_a_burst_over_tls_opens_at_most_max_in_flight_connections(
    tls_sink: SegmentSink, trusting: ssl.SSLContext
) -> None:
    """100,000 events at the defaults over TLS: at most 4 connections (kept alive), none lost."""
    async with Analytics(write_key="k", host=tls_sink.url, ssl=trusting) as analytics:
        for i in range(100_000):
            await analytics.track(event="Burst", user_id="u", properties={"i": i})
        await analytics.flush()
        assert analytics.stats().delivered == 100_000
    assert len({e["messageId"] for e in tls_sink.events}) == 100_000
    assert 1 <= tls_sink.connections <= 4


def test_the_drop_in_takes_an_ssl_context(ca: trustme.CA, trusting: ssl.SSLContext) -> None:
    """analytics_async.sync.Client(ssl=...): the same verified TLS from sync code."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    with sink_in_thread(SegmentSink(), server) as sink:
        client = Client("k", host=sink.url, ssl=trusting)
        assert client.track("u", "Over TLS")[0] is True
        client.shutdown(timeout=5)
        assert [e["event"] for e in sink.events] == ["Over TLS"]


def test_ssl_must_be_a_context_for_the_default_client(trusting: ssl.SSLContext) -> None:
    """A wrong type, or ssl= beside a custom http_client (which does its own TLS), is a ConfigError."""
    with pytest.raises(ConfigError, match=r"ssl: must be an ssl\.SSLContext or None, not str"):
        Analytics(write_key="k", ssl="/etc/ssl/cert.pem")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="ssl: applies to the default HTTP client"):
        Analytics(write_key="k", ssl=trusting, http_client=RecordingClient())


def test_certifi_is_the_fallback_only_without_system_certificates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No CA file and an empty CA directory: certifi's bundle; a system store present: the system's."""
    empty = ssl.DefaultVerifyPaths("", str(tmp_path), "SSL_CERT_FILE", "", "SSL_CERT_DIR", "")
    assert not trust.system_has_cas(empty)
    (tmp_path / "ca.pem").write_text("x")
    assert trust.system_has_cas(ssl.DefaultVerifyPaths(str(tmp_path / "ca.pem"), "", "", "", "", ""))
    trust.default_context.cache_clear()
    monkeypatch.setattr(trust, "system_has_cas", lambda: False)
    context = trust.default_context()
    assert context is not None
    assert context.cert_store_stats()["x509_ca"] > 50  # certifi's bundle
    trust.default_context.cache_clear()
    monkeypatch.setattr(trust, "system_has_cas", lambda: True)
    assert trust.default_context() is None  # aiohttp's default context: the system store
    trust.default_context.cache_clear()


@pytest.mark.slow
def test_ssl_cert_file_is_trusted_as_the_standard_library_defines(ca: trustme.CA, tmp_path: Path) -> None:
    """SSL_CERT_FILE naming the test CA: `send` over HTTPS with no ssl= setting at all is delivered.

    Through the CLI's own `sink --cert --key` serving HTTPS, in real processes.
    """
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server = subprocess.Popen(
        [sys.executable, "-m", "analytics_async", "sink", "--port", "0", "--cert", str(tmp_path / "cert.pem"),
         "--key", str(tmp_path / "key.pem"), "--duration", "20"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("listening on ")[1].strip().removesuffix("/v1/batch")
        assert url.startswith("https://127.0.0.1:")
        send = [sys.executable, "-m", "analytics_async", "send", "track", "--host", url, "--user-id", "u",
                "--event", "Over TLS", "--max-retries", "0"]  # fmt: skip
        env = {**os.environ, "SEGMENT_WRITE_KEY": "k"}
        refused = subprocess.run(send, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 1
        assert "certificate verification failed for 127.0.0.1" in refused.stdout + refused.stderr
        trusted = subprocess.run(send, env={**env, "SSL_CERT_FILE": str(tmp_path / "ca.pem")},
                                 capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert trusted.returncode == 0, trusted.stdout + trusted.stderr
        assert "delivered" in trusted.stdout
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=10)
    assert "Over TLS" in out
