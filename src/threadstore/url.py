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
from threadstore.masking import MASK, SECRET_OPTIONS, is_secret

__all__ = ["SECRET_OPTIONS", "StoreURL", "is_secret"]

OptionsT = TypeVar("OptionsT", bound=pydantic.BaseModel)

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_SCHEME_LOOKING = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)


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
        """Parse ``url``; a string without ``scheme:`` (or a path object) is a local path.

        A string that starts like a scheme but lacks the ``//`` (``s3:/bucket``,
        ``file:/tmp/x``) is refused with the spelling it probably meant, rather than
        taken for a local directory named ``s3:``.
        """
        if isinstance(url, StoreURL):
            return url
        text = os.fspath(url)
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError("a store URL must be a non-empty string")
        if "\x00" in text:
            raise InvalidRequestError("a store URL must not contain NUL")
        scheme, sep, _ = text.partition("://")
        if not sep or not _SCHEME.fullmatch(scheme):
            if isinstance(url, str) and (looks := _SCHEME_LOOKING.fullmatch(text)):
                raise InvalidRequestError(_missing_slashes(*looks.groups()))
            return cls(scheme="file", path=os.path.abspath(os.path.expanduser(text)))
        try:
            parts = urlsplit(text)
        except ValueError:  # its text may quote the host part, password included
            raise InvalidRequestError(
                "malformed store URL: an unbalanced [ or ], or a host with characters "
                "that are not allowed there"
            ) from None
        try:
            port = parts.port
        except ValueError as exc:
            raise InvalidRequestError(f"bad port in store URL: {exc}") from None
        if parts.fragment:
            raise InvalidRequestError("a store URL takes no #fragment")
        parsed = cls(
            scheme=parts.scheme.lower(),
            host=_host(parts.netloc, port),
            path=unquote(parts.path),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            port=port,
            query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
        )
        decoded = [parsed.host, parsed.path, parsed.username or "", parsed.password or ""]
        if any("\x00" in part for part in decoded + [s for pair in parsed.query for s in pair]):
            raise InvalidRequestError("a store URL must not contain NUL, not even as %00")
        return parsed

    @property
    def secrets(self) -> frozenset[str]:
        """The credentials this URL carries: its password and every secret option's value,
        as given and as percent-encoded (the forms a message might quote them in)."""
        values = [self.password or ""]
        values += [value for name, value in self.query if is_secret(name)]
        return frozenset(
            form for value in values if value for form in (value, quote(value, safe=""))
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
                    netloc += ":" + (MASK if hide_secrets else quote(self.password, safe=""))
                netloc += "@"
            netloc += self.host
            if self.port is not None:
                netloc += f":{self.port}"
            base = f"{self.scheme}://{netloc}{quote(self.path)}"
        if self.query:
            shown = [
                (name, MASK if hide_secrets and is_secret(name) else value)
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


def _missing_slashes(scheme: str, rest: str) -> str:
    """The error for ``scheme:rest`` without ``//``, with the URL it probably meant.

    The text given is not repeated (it may hold a password): for an installed scheme
    the suggestion is shown rendered, secrets masked; for any other, only the scheme.
    """
    from threadstore.registry import available_backends

    advice = "(a local directory whose name has a colon is written ./NAME)"
    if scheme.lower() not in available_backends():
        return f"not a store URL: '{scheme}:' is not followed by '//' {advice}"
    if scheme.lower() == "file":
        path = rest if rest.startswith("/") else os.path.abspath(os.path.expanduser(rest))
        meant = "file:///" + path.lstrip("/")
    else:
        meant = f"{scheme}://{rest.lstrip('/')}"
    try:
        shown = f"; did you mean {StoreURL.parse(meant).render()}?"
    except InvalidRequestError:
        shown = ""
    return f"not a store URL: '{scheme}:' must be followed by '//'{shown} {advice}"
