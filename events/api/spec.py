"""Endpoints that describe themselves: each API module declares its routes with what they take
and answer (pydantic models, query parameters, error statuses), and the OpenAPI document
(`GET /openapi.json`, rendered at `/docs`) is built from the same declarations, so the two
cannot drift apart."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from starlette.routing import Route

_CONVERTER = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Param:
    """A query parameter."""

    name: str
    description: str
    type: str = "string"
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    query: tuple[Param, ...] = ()
    errors: dict[int, str] = field(default_factory=dict)
    status: int = 200
    authenticated: bool = True

    @property
    def openapi_path(self) -> str:
        return _CONVERTER.sub(r"{\1}", self.path)

    @property
    def path_params(self) -> list[str]:
        return [m.group(1) for m in _CONVERTER.finditer(self.path)]


@dataclass
class Endpoints:
    """The routes of one API module and their descriptions."""

    tag: str
    routes: list[Route] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)

    def add(
        self,
        method: str,
        path: str,
        endpoint: Callable[..., Any],
        summary: str,
        *,
        response: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        query: Sequence[Param] = (),
        errors: dict[int, str] | None = None,
        status: int = 200,
        authenticated: bool = True,
    ) -> None:
        self.routes.append(Route(path, endpoint, methods=[method]))
        self.describe(
            method,
            path,
            summary,
            response=response,
            body=body,
            query=query,
            errors=errors,
            status=status,
            authenticated=authenticated,
        )

    def describe(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        response: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        query: Sequence[Param] = (),
        errors: dict[int, str] | None = None,
        status: int = 200,
        authenticated: bool = True,
    ) -> None:
        """An operation served by something else than a route (the webhook receiver)."""
        self.operations.append(
            Operation(
                method.lower(),
                path,
                summary,
                self.tag,
                response,
                body,
                tuple(query),
                dict(errors or {}),
                status,
                authenticated,
            )
        )


def openapi(operations: Sequence[Operation], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these operations, with their models as components."""
    models = {m for op in operations for m in (op.response, op.body) if m is not None}
    schemas: dict[str, Any] = {}
    for model in sorted(models, key=lambda m: m.__name__):
        mode: Literal["validation", "serialization"] = "serialization"
        if any(op.body is model for op in operations):
            mode = "validation"
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    paths: dict[str, Any] = {}
    for op in operations:
        paths.setdefault(op.openapi_path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(op: Operation) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in op.path_params
    ]
    params += [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": {"type": p.type},
        }
        for p in op.query
    ]
    ok: dict[str, Any] = {"description": "OK"}
    if op.response is not None:
        ref = {"$ref": f"#/components/schemas/{op.response.__name__}"}
        ok["content"] = {"application/json": {"schema": ref}}
    responses: dict[str, Any] = {str(op.status): ok}
    problem = {
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"error": {"type": "string"}}}
            }
        }
    }
    for status, why in sorted(op.errors.items()):
        responses[str(status)] = {"description": why, **problem}
    if op.authenticated:
        responses.setdefault("401", {"description": "a bearer token is required", **problem})
    out: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": params,
        "responses": responses,
    }
    if op.body is not None:
        ref = {"$ref": f"#/components/schemas/{op.body.__name__}"}
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    if op.authenticated:
        out["security"] = [{"bearer": []}]
    return out
