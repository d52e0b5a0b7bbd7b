"""Adapters that let other libraries keep their state in a threadstore.

Each module needs its own optional extra and is imported only when asked for:
``threadstore.integrations.agents`` (``pip install "threadstore[agents]"``) for the
OpenAI Agents SDK.
"""
