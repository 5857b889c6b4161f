"""``prodml ui``: the dashboard on this store."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)


def ui(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    host: Annotated[
        str, typer.Option(help="Address to bind; 0.0.0.0 shares it on the network.")
    ] = "127.0.0.1",
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Show everything, change nothing (for sharing).")
    ] = False,
) -> None:
    """Serve the dashboard on the store (embedded or PostgreSQL + object storage)."""
    import uvicorn

    from prodml.ui.app import create_app

    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    typer.echo(f"Dashboard on http://{shown}:{port}/{'  (read-only)' if read_only else ''}")
    uvicorn.run(create_app(read_only=read_only), host=host, port=port, log_level="warning")
