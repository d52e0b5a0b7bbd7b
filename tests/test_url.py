"""StoreURL: parsing, option validation, and rendering without secrets."""

from __future__ import annotations

import os

import pytest
from pydantic import BaseModel, ConfigDict

from threadstore.errors import InvalidRequestError
from threadstore.url import StoreURL


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint_url: str | None = None
    secret: str | None = None
    retries: int = 3


def test_plain_paths_are_files(tmp_path: os.PathLike[str]) -> None:
    url = StoreURL.parse("relative/dir")
    assert url.scheme == "file"
    assert url.path == os.path.abspath("relative/dir")
    assert StoreURL.parse(tmp_path).path == os.fspath(tmp_path)
    assert StoreURL.parse("~/x").path == os.path.expanduser("~/x")


def test_file_url() -> None:
    url = StoreURL.parse("file:///var/lib/app/threads")
    assert (url.scheme, url.host, url.path) == ("file", "", "/var/lib/app/threads")
    assert str(url) == "file:///var/lib/app/threads"


def test_memory_urls_keep_the_name_as_written() -> None:
    assert StoreURL.parse("memory://").host == ""
    assert StoreURL.parse("memory://MyStore").host == "MyStore"


def test_object_storage_url() -> None:
    url = StoreURL.parse("S3://bucket/some/prefix?endpoint_url=http://127.0.0.1:9000&retries=5")
    assert (url.scheme, url.host, url.path) == ("s3", "bucket", "/some/prefix")
    assert url.params == {"endpoint_url": "http://127.0.0.1:9000", "retries": "5"}
    assert url.options(Options).retries == 5


def test_plus_schemes_name_a_driver() -> None:
    url = StoreURL.parse("fsspec+memory://bucket/p")
    assert (url.scheme, url.driver) == ("fsspec+memory", "memory")


def test_keyword_options_win_over_the_query_string() -> None:
    url = StoreURL.parse("s3://b/p?retries=5")
    assert url.options(Options, {"retries": 7}).retries == 7


def test_unknown_option_is_an_error_that_lists_the_known_ones() -> None:
    url = StoreURL.parse("s3://b/p?retry=5")
    with pytest.raises(InvalidRequestError, match="retry") as caught:
        url.options(Options)
    assert "endpoint_url, retries, secret" in str(caught.value)


def test_option_errors_never_show_values() -> None:
    url = StoreURL.parse("s3://b/p?retries=hunter2-secret")
    with pytest.raises(InvalidRequestError) as caught:
        url.options(Options)
    assert "hunter2" not in str(caught.value)


def test_repeated_option_is_an_error() -> None:
    with pytest.raises(InvalidRequestError, match="twice"):
        StoreURL.parse("s3://b/p?retries=1&retries=2").options(Options)


def test_secrets_are_hidden_in_str_and_repr() -> None:
    text = "s3://user:pa%40ss@bucket/p?secret=s3cr3t&aws_session_token=tok&endpoint_url=http://h:1"
    url = StoreURL.parse(text)
    assert url.password == "pa@ss"
    for shown in (str(url), repr(url), url.render(), f"{url!r}"):
        assert "s3cr3t" not in shown
        assert "pa@ss" not in shown
        assert "pa%40ss" not in shown
        assert "tok" not in shown.replace("token", "")
        assert "endpoint_url=http://h:1" in shown
    assert StoreURL.parse(url.render(hide_secrets=False)) == url


@pytest.mark.parametrize("bad", ["", "   ", "file:///a\x00b", "s3://b:notaport/p", "s3://b/p#frag"])
def test_malformed_urls(bad: str) -> None:
    with pytest.raises(InvalidRequestError):
        StoreURL.parse(bad)


def test_joinpath_makes_a_child_location() -> None:
    assert str(StoreURL.parse("memory://").joinpath("t1")) == "memory://t1"
    assert StoreURL.parse("memory://base").joinpath("t1").path == "/t1"
    assert StoreURL.parse("file:///a/b/").joinpath("t1").path == "/a/b/t1"
    child = StoreURL.parse("s3://bucket/p?endpoint_url=http://h:1").joinpath("t1")
    assert (child.host, child.path, child.params) == (
        "bucket",
        "/p/t1",
        {"endpoint_url": "http://h:1"},
    )


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("s3:/bucket/p", "s3://bucket/p"),
        ("s3:bucket/p", "s3://bucket/p"),
        ("file:/var/tmp/x", "file:///var/tmp/x"),
        ("file://var/tmp/x", None),  # a host, refused by the backend: not a typo of this kind
        ("memory:/x", "memory://x"),
        ("MEMORY:", "memory://"),
    ],
)
def test_a_scheme_without_slashes_is_refused_with_the_spelling_meant(
    typo: str, meant: str | None
) -> None:
    if meant is None:
        assert StoreURL.parse(typo).scheme == "file"
        return
    with pytest.raises(InvalidRequestError) as caught:
        StoreURL.parse(typo)
    assert f"did you mean {meant}?" in str(caught.value)
    assert "./NAME" in str(caught.value)


def test_a_colon_in_a_local_name_is_written_as_a_relative_path(tmp_path: os.PathLike[str]) -> None:
    assert StoreURL.parse("./data:2024").path == os.path.abspath("data:2024")
    with pytest.raises(InvalidRequestError, match="'data:' is not followed by '//'"):
        StoreURL.parse("data:2024")
    from pathlib import Path

    assert StoreURL.parse(Path("data:2024")).path == os.path.abspath("data:2024")  # a path object


def test_a_suggestion_never_shows_a_password() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        StoreURL.parse("s3:/user:hunter2@bucket/p")
    assert "hunter2" not in str(caught.value)
    assert "s3://user:***@bucket/p" in str(caught.value)
    with pytest.raises(InvalidRequestError) as other:
        StoreURL.parse("admin:hunter2@host/p")
    assert "hunter2" not in str(other.value)


@pytest.mark.parametrize(
    "url",
    ["file:///tmp/x%00y", "memory://n%00ame", "s3://b/p?endpoint_url=%00", "s3://u:p%00w@b/p"],
)
def test_an_encoded_nul_is_refused(url: str) -> None:
    with pytest.raises(InvalidRequestError, match="NUL"):
        StoreURL.parse(url)


def test_secrets_lists_every_form_a_credential_may_be_quoted_in() -> None:
    url = StoreURL.parse("s3://u:p%40ss@b/p?secret=x%2Fy&endpoint_url=http://h:1&db_password=pw")
    assert url.secrets == {"p@ss", "p%40ss", "x/y", "x%2Fy", "pw"}
    assert StoreURL.parse("memory://").secrets == frozenset()
