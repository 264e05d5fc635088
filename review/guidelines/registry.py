"""The registry of rule types. Built-in types register through the same door an extension uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .rule import Rule

R = TypeVar("R", bound=type[Rule])
_TYPES: dict[str, type[Rule]] = {}


def register(name: str) -> Callable[[R], R]:
    """Class decorator: make a rule type available to `extends: <name>`."""

    def deco(cls: R) -> R:
        if not name.isidentifier():
            raise ValueError(f"rule type name must be an identifier: {name!r}")
        if name in _TYPES and _TYPES[name] is not cls:
            raise ValueError(f"rule type {name!r} is already registered")
        cls.type_name = name
        _TYPES[name] = cls
        return cls

    return deco


def registered_types() -> dict[str, type[Rule]]:
    """Every known rule type by name (a copy; register new ones with `register`)."""
    _load_builtins()
    return dict(_TYPES)


def _load_builtins() -> None:
    from . import rules  # noqa: F401  (importing registers the built-in types)
