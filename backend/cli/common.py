"""What every command group shares: printing a domain error and exiting."""

from __future__ import annotations

import sys

import click

from backend.errors import DomainError


def fail(exc: DomainError) -> None:
    """Print a domain error in Chinese and exit with status 1."""
    detail = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    click.echo(f"错误：{exc.message}" + (f"（{detail}）" if detail else ""), err=True)
    sys.exit(1)
