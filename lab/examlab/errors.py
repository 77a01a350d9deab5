"""The one error every part of the lab raises when the machine refuses a change."""

from __future__ import annotations


class LabError(RuntimeError):
    """Something on this machine stopped the lab from being built, changed or removed."""
