"""Tasks every family can share: the ``Task`` base (``base``), image classification (``images``) and the
OneMax toy (``toy``). Families' own tasks live in ``evonas/families/``; ``evonas.registry`` finds them by name."""

from .base import Task

__all__ = ["Task"]
