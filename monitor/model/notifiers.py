"""What every receiver kind's settings have in common; each kind's settings live in its module.

A kind's settings are one frozen dataclass in its `alerts/notifiers/<kind>.py`;
the list of kinds is `alerts.notifiers.NOTIFIERS`. The loader builds them
from `[[notifiers]]` tables generically: a field's type says how to read it
(str, int, bool, Secret, tuple of str); a field made with `duration()` reads
a duration ("10s"); `key` in the metadata renames it in the file (`from` is
a Python keyword). Only the built-in `log` receiver's (empty) settings are
here: the model's default receiver is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

DEFAULT_TIMEOUT = 10.0


class NotifierSettings(Protocol):
    """Any kind's settings: a frozen dataclass the loader reads field by field."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


def duration(default: float) -> Any:
    """A field read as a duration ("10s") from the file."""
    return field(default=default, metadata={"duration": True})


@dataclass(frozen=True, slots=True)
class LogSettings:
    """Notifications written to examnet's own log: the embedded default, no network."""
