"""Settings read from the environment (``THREADSTORE_URL``), via pydantic-settings."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """``THREADSTORE_URL`` names the store ``open_store()`` opens when given no URL."""

    model_config = SettingsConfigDict(env_prefix="THREADSTORE_", extra="ignore")

    url: str | None = None
