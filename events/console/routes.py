"""The console's routes under /console, and its own static files (no CDN, no build step)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from events.console import forms, pages
from events.console.render import action, view

STATIC = Path(__file__).parent / "static"

routes: list[BaseRoute] = [
    Route("/console", view(pages.overview)),
    Route("/console/login", forms.login_page, methods=["GET"]),
    Route("/console/login", forms.login, methods=["POST"]),
    Route("/console/logout", forms.logout, methods=["POST"]),
    Route("/console/webhooks", view(pages.webhooks)),
    Route("/console/webhooks/{webhook_id}", view(pages.webhook)),
    Route("/console/webhooks/{webhook_id}/replay", action(forms.replay), methods=["POST"]),
    Route("/console/messages", view(pages.messages)),
    Route("/console/messages/{channel}/{message_id:path}", view(pages.message)),
    Route("/console/actions", view(pages.actions)),
    Route("/console/actions/{action_id}/retry", action(forms.retry), methods=["POST"]),
    Route("/console/dead-letters", view(pages.dead_letters)),
    Route("/console/opt-outs", view(pages.opt_outs)),
    Route("/console/reconcile", view(pages.reconcile_runs)),
    Mount("/console/static", StaticFiles(directory=STATIC, check_dir=False), name="console-static"),
]
