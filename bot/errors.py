"""The errors the shell (settings, storage, CLI) raises on purpose.

The CLI prints any ``BotError`` as one line without a traceback and exits 1; anything else is a bug
and keeps its traceback. Foreign errors (SQLAlchemy, YAML) are mapped to these at the seam that sees
them, so callers never need to import a driver to catch a failure::

    BotError
    ├── SettingsError          a setting is missing or has a value of the wrong type
    └── StoreError
        ├── StoreUnavailableError   the database cannot be reached or is locked too long
        └── ConflictError           another worker saved this conversation's turn first
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the shell raises on purpose."""


class SettingsError(BotError):
    """A setting cannot be read or cast; the message names the key, where it came from and the value."""


class StoreError(BotError):
    """The database refused or failed an operation."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached (server down, file not writable, lock held too long)."""


class ConflictError(StoreError):
    """Someone else saved a newer version of this conversation since it was loaded.

    The turn must be redone on the fresh state; nothing of the failed attempt was written.
    """

    def __init__(self, user_id: int | None, expected_version: int) -> None:
        super().__init__(f"conversation of user {user_id} is no longer at version {expected_version}; reload and retry")
        self.user_id = user_id
        self.expected_version = expected_version
