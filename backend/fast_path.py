"""Placeholder, replaced by the fast path."""


def speed_up(pipe, device: str) -> None:
    pass
