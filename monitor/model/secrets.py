"""A secret value (SNMP community, v3 keys, tokens, passwords) that never prints."""

from __future__ import annotations


class Secret:
    """A value that never prints: logs, reprs and metrics show `<secret>`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the one call that needs it (an SNMP engine)."""
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class WithheldSecret(Secret):
    """A credential whose variable a read-only command (`status`, `report`,
    `incidents`) did not need: the Department's desk can run them without the
    SNMP keys. Using it is a bug, so it fails loudly rather than sends ""."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__("")
        self.name = name

    def reveal(self) -> str:
        raise RuntimeError(f"${{{self.name}}} was not loaded: this command reads no credential")
