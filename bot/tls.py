"""One TLS context for the process's outgoing HTTPS clients (OpenAI's SDK client, the tools'
client).

Building a context loads the whole CA bundle (certifi's, or SSL_CERT_FILE / SSL_CERT_DIR, read
as httpx reads them): about 35 ms of CPU each time, which every client built with the default
`verify=True` pays again. One `SSLContext` serves any number of connections, so it is built
once, on first use, and shared.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
