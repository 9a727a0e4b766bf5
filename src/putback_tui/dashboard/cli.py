"""``putback central dashboard``: the network dashboard in this terminal, or served to browsers."""

from __future__ import annotations

import os

import click

URL_ENV = "PUTBACK_DASHBOARD_URL"
TOKEN_ENV = "PUTBACK_DASHBOARD_TOKEN"
SERVED_BY_ENV = "PUTBACK_DASHBOARD_SERVED_BY"
"""Set by ``--web`` for the dashboards it starts: its process ID, so they quit when it is gone."""
REFRESH_ENV = "PUTBACK_DASHBOARD_REFRESH_S"


def _http_url(_ctx: click.Context, _param: click.Parameter, url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(
            f"{url!r} is not an http:// or https:// address of a central store, e.g. "
            "'http://central.local:8700'"
        )
    return url.rstrip("/")


@click.command("dashboard")
@click.option(
    "--url",
    envvar=URL_ENV,
    required=True,
    metavar="URL",
    callback=_http_url,
    help=f"The central store, e.g. http://central.local:8700 (env: {URL_ENV}).",
)
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    required=True,
    metavar="TOKEN",
    help=f"A viewer token from `putback central add-viewer` (env: {TOKEN_ENV}; prefer it: a "
    "command line is visible to every user of the machine).",
)
@click.option(
    "--refresh",
    "refresh_s",
    envvar=REFRESH_ENV,
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.5, 3600),
    metavar="SECONDS",
    help=f"Seconds between refreshes (env: {REFRESH_ENV}).",
)
@click.option(
    "--web",
    is_flag=True,
    help="Serve the dashboard to browsers (textual-serve) instead of running it here.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="--web: address to listen on.")
@click.option(
    "--port",
    default=8710,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="--web: port to listen on.",
)
def dashboard(url: str, token: str, refresh_s: float, web: bool, host: str, port: int) -> None:
    """Watch the network's exception backlog: every facility, its orders, its terminals.

    A client of the central store's backlog API with a viewer token (read only); it refreshes
    by itself and says when the central store does not answer. Enter opens a facility, then an
    order; Esc goes back; F1 explains every figure. With --web, every browser that opens
    http://HOST:PORT gets its own dashboard.
    """
    token = token.strip()
    if not token:
        raise click.BadParameter("is empty: give the token `putback central add-viewer` printed",
                                 param_hint="--token")
    if web:
        from putback_tui.dashboard.web import serve
        from putback_tui.extras import MissingExtraError

        try:
            serve(url, token, refresh_s=refresh_s, host=host, port=port)
        except MissingExtraError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    from putback_tui.dashboard.app import make_app

    served_by = os.environ.get(SERVED_BY_ENV, "")
    make_app(
        url, token, refresh_s=refresh_s, served_by=int(served_by) if served_by.isdigit() else None
    ).run()
