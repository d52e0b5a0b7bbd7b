"""The backends that ship with the core: ``memory`` and ``local`` (``file://``)."""
