"""Errors a user can cause; the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input that names the problem and the fix in one line."""

