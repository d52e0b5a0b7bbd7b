"""How caller input is checked: typed patches for updates, and pydantic's complaints
turned into :class:`InvalidRequestError` messages a person can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import pydantic
from pydantic import ConfigDict, Field, create_model

from threadstore.errors import InvalidRequestError

__all__ = ["Patch", "describe", "input_rules", "patch_of"]


def describe(exc: pydantic.ValidationError, limit: int = 3) -> str:
    """Where each problem is and what is wrong, without pydantic's links or the input."""
    errors = exc.errors(include_input=False, include_url=False)
    parts = []
    for error in errors[:limit]:
        place = ".".join(str(part) for part in error["loc"])
        parts.append(f"{place}: {error['msg']}" if place else error["msg"])
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(parts) + more


@contextmanager
def input_rules() -> Iterator[None]:
    """Report pydantic's complaints about caller input as :class:`InvalidRequestError`."""
    try:
        yield
    except pydantic.ValidationError as exc:
        raise InvalidRequestError(describe(exc)) from None


class Patch(pydantic.BaseModel):
    """The fields an update sets, validated once; ``model_fields_set`` says which were given."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    def changes(self) -> dict[str, Any]:
        """The given fields and their validated values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


def patch_of(model: type[pydantic.BaseModel], *names: str) -> type[Patch]:
    """A :class:`Patch` of ``model``'s fields ``names``, each typed and checked as there."""
    fields: dict[str, Any] = {}
    for name in names:
        field = model.model_fields[name]
        kind = (
            Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        )
        fields[name] = (kind, Field(default=None, discriminator=field.discriminator))
    return create_model(f"{model.__name__}Patch", __base__=Patch, **fields)
