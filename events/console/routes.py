"""The console's routes, mounted at /console (one Mount: the OpenAPI document describes the
API, and these are pages), and its own static files (no CDN, no build step). `/console`
itself redirects to the overview at `/console/`."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from events.console import forms, pages
from events.console.render import action, view
from events.console.session import PATH

STATIC = Path(__file__).parent / "static"

pages_and_forms: list[BaseRoute] = [
    Route("/", view(pages.overview)),
    Route("/login", forms.login_page, methods=["GET"]),
    Route("/login", forms.login, methods=["POST"]),
    Route("/logout", forms.logout, methods=["POST"]),
    Route("/webhooks", view(pages.webhooks)),
    Route("/webhooks/{webhook_id}", view(pages.webhook)),
    Route("/webhooks/{webhook_id}/replay", action(forms.replay), methods=["POST"]),
    Route("/messages", view(pages.messages)),
    Route("/messages/{channel}/{message_id:path}", view(pages.message)),
    Route("/actions", view(pages.actions)),
    Route("/actions/{action_id}/retry", action(forms.retry), methods=["POST"]),
    Route("/dead-letters", view(pages.dead_letters)),
    Route("/opt-outs", view(pages.opt_outs)),
    Route("/reconcile", view(pages.reconcile_runs)),
    Mount("/static", StaticFiles(directory=STATIC, check_dir=False)),
]

routes: list[BaseRoute] = [Mount(PATH, routes=pages_and_forms)]
