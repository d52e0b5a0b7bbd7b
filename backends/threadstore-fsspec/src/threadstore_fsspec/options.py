"""What an ``s3://`` URL may say, and the s3fs filesystem it becomes.

Options come from the query string or as keywords (keywords win) and are validated by
:class:`FsspecOptions`, which refuses unknown ones. Credentials are options (``key``,
``secret``, ``token``) or the standard AWS environment; a URL's user part is refused,
because s3fs would ignore it and sign with the environment's identity instead (and a
user part in ``endpoint_url`` is refused too: the HTTP client cannot send it beside the
request's signature). Every
credential, wherever it was given (an option, ``client_kwargs``), is listed by
:func:`credentials` so that no log line shows it; ``endpoint_url`` may not carry one.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

import s3fs  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from threadstore.backend import InvalidRequestError, StoreURL
from threadstore.url import is_secret
from threadstore_fsspec.objects import NoResendSession, Place, S3Objects

__all__ = ["FsspecOptions", "credentials", "open_objects", "store_root"]


class FsspecOptions(BaseModel):
    """Options of ``s3://`` URLs, from the query string or as keywords (keywords win)."""

    model_config = ConfigDict(extra="forbid")

    endpoint_url: str | None = None
    key: SecretStr | None = None
    secret: SecretStr | None = None
    token: SecretStr | None = None
    region: str | None = None
    profile: str | None = None
    anon: bool = False
    client_kwargs: dict[str, Any] = Field(default_factory=dict)
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(15.0, gt=0)
    max_pool_connections: int = Field(64, ge=1)
    max_attempts: int = Field(6, ge=1, le=20)
    """Attempts per request on throttling, 5xx and timeouts (with jittered backoff)."""
    check_conditional_writes: Literal["always"] | bool = True
    """The start-up probe: ``true`` runs it before the first write unless the store's
    marker records one that passed; ``always`` runs it at open; ``false`` never (only
    for a store known to honour conditions)."""


def store_root(url: StoreURL, opts: FsspecOptions) -> tuple[str, str]:
    """The bucket and the key prefix (``""`` or ``prefix/``) a URL names; refuses a URL
    without a bucket, a prefix with empty, ``.`` or ``..`` parts, and a user part, in the
    URL or in ``endpoint_url``."""
    if opts.endpoint_url and "@" in urlsplit(opts.endpoint_url).netloc:
        raise InvalidRequestError(
            "endpoint_url takes no user or password (S3 requests are signed with the "
            "credentials, and the HTTP client refuses both at once): give credentials as "
            "key= and secret= (and token=), or through the AWS environment"
        )
    if url.username is not None or url.password is not None:
        raise InvalidRequestError(
            f"{url.scheme}:// URLs take no user or password (they would be ignored and the "
            "environment's identity used instead): give credentials as key= and secret= "
            "(and token=), as options or in the query string, or through the AWS environment"
        )
    if not url.host:
        raise InvalidRequestError(f"{url.scheme}:// needs a bucket: {url.scheme}://BUCKET/PREFIX")
    prefix = url.path.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise InvalidRequestError("the prefix must not contain empty, '.' or '..' parts")
    return url.host, f"{prefix}/" if prefix else ""


def credentials(url: StoreURL, opts: FsspecOptions) -> list[str]:
    """Every credential the URL and options carry, for masking in log records."""
    found = [url.password or ""]
    found += [value.get_secret_value() for value in (opts.key, opts.secret, opts.token) if value]
    found += [
        str(value)
        for name, value in opts.client_kwargs.items()
        if isinstance(value, str) and (is_secret(name) or name.startswith("aws_"))
    ]
    return [value for value in found if value]


def open_objects(bucket: str, opts: FsspecOptions) -> S3Objects:
    """The object layer for ``bucket``, through an s3fs filesystem of its own."""
    fs = s3fs.S3FileSystem(**_s3_arguments(opts))
    place = Place(bucket, opts.endpoint_url or "")
    return S3Objects(fs, place, attempts=opts.max_attempts)


def _s3_arguments(opts: FsspecOptions) -> dict[str, Any]:
    client_kwargs = dict(opts.client_kwargs)
    if opts.region:
        client_kwargs.setdefault("region_name", opts.region)
    arguments: dict[str, Any] = {
        "anon": opts.anon,
        "endpoint_url": opts.endpoint_url,
        "client_kwargs": client_kwargs,
        "use_listings_cache": False,
        "skip_instance_cache": True,
        "config_kwargs": {
            "connect_timeout": opts.connect_timeout,
            "read_timeout": opts.read_timeout,
            "max_pool_connections": opts.max_pool_connections,
            "retries": {"total_max_attempts": 1},
            "http_session_cls": NoResendSession,
        },
    }
    for name in ("key", "secret", "token"):
        value = getattr(opts, name)
        if value is not None:
            arguments[name] = value.get_secret_value()
    if opts.profile:
        arguments["profile"] = opts.profile
    return arguments
