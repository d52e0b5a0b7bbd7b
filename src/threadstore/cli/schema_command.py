"""``threadstore migrate URL``: bring a store's stored format to the installed backend's.

Backends whose stored format has versions (SQL tables, the local disk's files, an
object-storage prefix's layout) offer it
through a classmethod ``migrate_schema(url, **options) -> (before, after)``; others have
nothing to migrate.
"""

from __future__ import annotations

import click

from threadstore.cli import EXIT_OK, EXIT_USAGE
from threadstore.cli.commands import (
    _fail,
    _json_option,
    _print_json,
    _secrets,
    app,
)


@app.command()
@click.argument("url")
@_json_option
def migrate(url: str, as_json: bool) -> int:
    """Create or upgrade the store at URL to this version's format (back it up first).

    A store of an older format refuses to open until this has run once; stop every
    process that uses the store while it runs.
    """
    from threadstore.errors import InvalidRequestError
    from threadstore.registry import backend_class
    from threadstore.url import StoreURL

    parsed = StoreURL.parse(url)
    _secrets.add(parsed.secrets)
    backend = backend_class(parsed.scheme)
    upgrade = getattr(backend, "migrate_schema", None)
    if upgrade is None:
        return _fail(
            InvalidRequestError(f"the {parsed.scheme}:// backend keeps no format to migrate"),
            EXIT_USAGE,
        )
    before, after = upgrade(parsed)
    shown = parsed.render()
    if as_json:
        _print_json({"url": shown, "before": before, "after": after})
    elif before is None:
        click.echo(f"{shown}: created at version {after}")
    elif before == after:
        click.echo(f"{shown}: version {after}, already current")
    else:
        click.echo(f"{shown}: migrated from version {before} to {after}")
    return EXIT_OK
