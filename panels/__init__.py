"""Registration of this package's modules; each module exposes register()/unregister()."""

import importlib

_module_names: tuple[str, ...] = ("main", "texture", "palette", "ideas")
_modules = [importlib.import_module(f".{name}", __package__) for name in _module_names]


def register() -> None:
    for module in _modules:
        module.register()


def unregister() -> None:
    for module in reversed(_modules):
        module.unregister()
