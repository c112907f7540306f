"""Reconciliation runs: what each checked, recovered, found and could not."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from events.api.common import page_size, reader
from events.api.models import ReconcileRun, RunList
from events.api.spec import Endpoints, Param
from events.services import Services
from storage.queries import reconcile as reconcile_q


def list_runs(request: Request, s: Services) -> Any:
    limit = page_size(request)
    with s.engine.connect() as conn:
        rows = reconcile_q.list_runs(conn, limit)
    return {"items": [ReconcileRun.from_row(r) for r in rows]}


api = Endpoints("reconciliation")
api.add(
    "GET",
    "/v1/reconcile/runs",
    reader(list_runs),
    "Reconciliation runs, newest first",
    response=RunList,
    query=[Param("limit", "runs, 1-500 (default 50)", "integer")],
)
