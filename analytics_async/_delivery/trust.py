"""Which certificates the default HTTP client trusts when no `ssl` context is given.

The system's, as the standard library finds them: OpenSSL's default CA file and directory, or
`SSL_CERT_FILE` / `SSL_CERT_DIR` when set. segment-analytics-python (requests) trusts certifi's
bundle instead, so on a system without CA certificates (a slim container image without the
`ca-certificates` package) it connects where the standard library cannot. So that the drop-in works
wherever the official SDK did, a system with no CA certificates at all falls back to certifi's
bundle (a required dependency on that account: about 160 KB, pure Python, imported only then).
Where the system has a store, it wins: a corporate CA installed there is trusted, as curl and the
standard library trust it (certifi's bundle would not). An explicit `ssl=` context overrides both.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl

__all__ = ["default_context", "system_has_cas"]

logger = logging.getLogger("analytics_async")


def system_has_cas(paths: ssl.DefaultVerifyPaths | None = None) -> bool:
    """Whether the standard library finds any CA certificate file or non-empty directory here."""
    paths = paths or ssl.get_default_verify_paths()
    if paths.cafile and os.path.isfile(paths.cafile):
        return True
    try:
        return bool(paths.capath) and any(os.scandir(paths.capath))
    except OSError:
        return False


@functools.cache
def default_context() -> ssl.SSLContext | None:
    """None: the system's store (aiohttp's default context); or a context on certifi's bundle.

    Decided once per process, on the first request.
    """
    if system_has_cas():
        return None
    try:
        import certifi  # noqa: PLC0415 - only on systems without CA certificates
    except ImportError:  # pragma: no cover - a required dependency
        return None
    logger.info("analytics_async: no CA certificates on this system; trusting certifi's bundle")
    return ssl.create_default_context(cafile=certifi.where())
