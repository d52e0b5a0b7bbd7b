"""``StoreURL``: an immutable, parsed store URL whose text never shows a secret.

``memory://``, ``memory://NAME``, ``file:///abs/path``, a plain path (``./data``,
``/var/lib/x``), ``s3://bucket/prefix?endpoint_url=...`` and any ``scheme://...`` a
plugin serves. The scheme picks the backend; the query string carries options, which
each backend validates with its own model (:meth:`StoreURL.options`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import pydantic

from threadstore.errors import InvalidRequestError

__all__ = ["SECRET_OPTIONS", "StoreURL"]

OptionsT = TypeVar("OptionsT", bound=pydantic.BaseModel)

SECRET_OPTIONS = frozenset(
    {
        "secret",
        "password",
        "token",
        "key",
        "access_key",
        "secret_key",
        "session_token",
        "aws_secret_access_key",
        "aws_session_token",
        "account_key",
        "sas_token",
        "credentials",
        "client_secret",
    }
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_MASK = "***"


def is_secret(name: str) -> bool:
    """Whether an option of this name holds a credential and must never be shown."""
    lowered = name.lower()
    return lowered in SECRET_OPTIONS or any(
        lowered.endswith(suffix) for suffix in ("secret", "password", "token", "_key")
    )


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed store URL. ``str()`` and ``repr()`` mask passwords and secret options."""

    scheme: str
    host: str = ""
    path: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    port: int | None = None
    query: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, url: str | os.PathLike[str] | StoreURL) -> StoreURL:
        """Parse ``url``; a string without ``scheme://`` is a local path."""
        if isinstance(url, StoreURL):
            return url
        text = os.fspath(url)
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError("a store URL must be a non-empty string")
        if "\x00" in text:
            raise InvalidRequestError("a store URL must not contain NUL")
        scheme, sep, _ = text.partition("://")
        if not sep or not _SCHEME.fullmatch(scheme):
            return cls(scheme="file", path=os.path.abspath(os.path.expanduser(text)))
        try:
            parts = urlsplit(text)
        except ValueError as exc:  # an unbalanced [ or ]
            raise InvalidRequestError(f"malformed store URL: {exc}") from None
        try:
            port = parts.port
        except ValueError as exc:
            raise InvalidRequestError(f"bad port in store URL: {exc}") from None
        if parts.fragment:
            raise InvalidRequestError("a store URL takes no #fragment")
        return cls(
            scheme=parts.scheme.lower(),
            host=_host(parts.netloc, port),
            path=unquote(parts.path),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            port=port,
            query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
        )

    @property
    def driver(self) -> str:
        """The part of ``base+driver`` after the plus (``fsspec+memory`` → ``memory``)."""
        return self.scheme.partition("+")[2]

    @property
    def params(self) -> dict[str, str]:
        """The query string as a dict; a repeated name is refused."""
        params: dict[str, str] = {}
        for name, value in self.query:
            if name in params:
                raise InvalidRequestError(f"option {name!r} appears twice in the URL")
            params[name] = value
        return params

    def options(
        self, model: type[OptionsT], overrides: Mapping[str, Any] | None = None
    ) -> OptionsT:
        """Validate the query string merged with ``overrides`` (which win) as ``model``.

        ``model`` should forbid extra fields, so an unknown option is an error. Errors
        name the option, never its value.
        """
        merged: dict[str, Any] = {**self.params, **(overrides or {})}
        try:
            return model.model_validate(merged)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}"
                for err in exc.errors(include_input=False)
            )
            known = ", ".join(sorted(model.model_fields)) or "none"
            raise InvalidRequestError(
                f"bad options for {self.scheme}:// ({problems}); known options: {known}"
            ) from None

    def joinpath(self, name: str) -> StoreURL:
        """The URL of a location one level below this one (used to make fresh test stores)."""
        if self.scheme == "memory" and not self.host:
            return replace(self, host=name)
        return replace(self, path=self.path.rstrip("/") + "/" + name)

    def with_scheme(self, scheme: str) -> StoreURL:
        return replace(self, scheme=scheme)

    def render(self, *, hide_secrets: bool = True) -> str:
        """The URL as text; by default passwords and secret options are ``***``."""
        if self.scheme == "file" and not self.host and not self.query:
            base = "file://" + quote(self.path)
        else:
            netloc = ""
            if self.username is not None:
                netloc = quote(self.username, safe="")
                if self.password is not None:
                    netloc += ":" + (_MASK if hide_secrets else quote(self.password, safe=""))
                netloc += "@"
            netloc += self.host
            if self.port is not None:
                netloc += f":{self.port}"
            base = f"{self.scheme}://{netloc}{quote(self.path)}"
        if self.query:
            shown = [
                (name, _MASK if hide_secrets and is_secret(name) else value)
                for name, value in self.query
            ]
            base += "?" + urlencode(shown, safe="*:/")
        return base

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"StoreURL({self.render()!r})"


def _host(netloc: str, port: int | None) -> str:
    """The host as written (case kept: memory store names and buckets are not DNS names)."""
    host = netloc.rpartition("@")[2]
    if port is not None:
        host = host.rpartition(":")[0]
    return unquote(host)
