"""Start ``framelab serve``: check where it binds, then run uvicorn with one application per worker process."""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict

import uvicorn

from framelab.serve.app import SETTINGS_ENV, TOKEN_ENV, ServeSettings, create_app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(settings: ServeSettings) -> None:
    """Refuse to listen beyond this machine without a bearer token."""
    if not is_loopback(settings.host) and not settings.token:
        raise ValueError(
            f"--host {settings.host} listens beyond this machine: set a bearer token with --token or {TOKEN_ENV} "
            "(and put a TLS proxy in front), or keep the default --host 127.0.0.1"
        )


def serve(settings: ServeSettings, *, log_level: str = "info") -> None:
    """Load the models and answer requests until interrupted."""
    settings.token = settings.token or os.environ.get(TOKEN_ENV) or None
    check_binding(settings)
    if settings.workers == 1:
        uvicorn.run(
            create_app(settings), host=settings.host, port=settings.port, log_level=log_level, server_header=False
        )
        return
    # Each worker process builds its own application (and loads the models once) from the environment.
    os.environ[SETTINGS_ENV] = json.dumps({k: v for k, v in asdict(settings).items() if k != "token"})
    if settings.token:
        os.environ[TOKEN_ENV] = settings.token
    uvicorn.run(
        "framelab.serve.app:from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=log_level,
        server_header=False,
    )
