"""Where the harness's stores live, and how a child process opens one.

S3 URLs carry dummy credentials and the loopback endpoint as options, so a child
process needs nothing from the environment to reach the moto server, and never reaches
anything else.
"""

from __future__ import annotations

import uuid

__all__ = ["BUCKET", "KEY_ID", "SECRET", "TOKEN", "s3_url"]

BUCKET = "threadstore-reliability"
KEY_ID = "AKIAREL1ABILITYKEYID"
SECRET = "rel1ability-s3cr3t-access-key"
TOKEN = "rel1ability-sess10n-t0ken"


def s3_url(endpoint: str, prefix: str | None = None, **options: object) -> str:
    """The store under ``prefix`` (by default a fresh, empty one) on the S3 server at
    ``endpoint``, with dummy credentials."""
    query = "".join(f"&{name}={value}" for name, value in options.items())
    return (
        f"s3://{BUCKET}/{prefix or uuid.uuid4().hex}?endpoint_url={endpoint}"
        f"&key={KEY_ID}&secret={SECRET}{query}"
    )
