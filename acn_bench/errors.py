"""Errors that reach the user as a one-paragraph message and exit status 2."""

from __future__ import annotations

from typing import Iterable


class UserError(Exception):
    """A problem with what the user asked for (bad name, bad value, missing data).

    The CLI prints the message as one paragraph and exits with status 2; nothing is written.
    """

    exit_code = 2


def unknown_choice(what: str, value: object, accepted: Iterable[object]) -> UserError:
    """Build the standard error for a value outside a known set of choices."""
    choices = ", ".join(str(a) for a in accepted)
    return UserError(f"unknown {what} {value!r}; accepted: {choices}.")


def require(condition: bool, message: str) -> None:
    """Raise :class:`UserError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UserError(message)
