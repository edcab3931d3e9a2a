"""Registering packages of modules that each expose ``register()`` and ``unregister()``."""

from collections.abc import Callable, Sequence
from types import ModuleType


def modules_factory(modules: Sequence[ModuleType]) -> tuple[Callable[[], None], Callable[[], None]]:
    """``register, unregister`` for ``modules``: in order, and undone in reverse order."""

    def register() -> None:
        for module in modules:
            module.register()

    def unregister() -> None:
        for module in reversed(modules):
            module.unregister()

    return register, unregister
