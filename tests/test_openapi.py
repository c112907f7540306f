"""GET /openapi.json describes the API from its models and GET /docs renders it from local assets;
every route is described, and real answers match the schemas they are described with."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import referencing.jsonschema
from openapi_spec_validator import validate
from referencing import Registry, Resource
from sqlalchemy import Engine
from starlette.routing import Mount, Route

from events.api.app import ROUTES
from events.api.docs import document
from tests.conftest import drain, fixture_bytes, post


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(document())


def test_every_route_is_described_and_every_description_is_a_route() -> None:
    served = {
        (method.lower(), route.path.replace(":path", ""))
        for route in ROUTES
        if isinstance(route, Route)
        for method in (route.methods or ())
        if method != "HEAD"
    }
    described = {
        (method, path)
        for path, operations in document()["paths"].items()
        for method in operations
        if not path.startswith("/webhooks/")
    }
    assert served == described
    assert any(isinstance(r, Mount) and r.path == "/docs/assets" for r in ROUTES)
    assert "/webhooks/{channel}" in document()["paths"]


def test_docs_render_with_assets_served_by_the_app(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert asset in page.text
        assert client.get(asset).status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert client.get("/openapi.json").json() == json.loads(json.dumps(document()))


def _validator(name: str) -> jsonschema.protocols.Validator:
    doc = document()
    resource: Resource[Any] = Resource.from_contents(
        doc, default_specification=referencing.jsonschema.DRAFT202012
    )
    registry: Registry[Any] = Registry().with_resource("urn:openapi", resource)
    schema = {"$ref": f"urn:openapi#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def test_real_answers_match_their_described_schemas(client: Any, engine: Engine) -> None:
    from events.channels.registry import PARSERS
    from events.process import Processor

    processor = Processor(engine, PARSERS, batch_size=50)
    webhook = post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    drain(processor)
    send = client.post("/v1/send", json={"channel": "sms", "to": "41793026727", "text": "hi"})
    client.post("/v1/opt-outs", json={"contact": "+41 79 302 67 99"})
    answers = {
        "Webhook": client.get(f"/v1/webhooks/{webhook.headers['x-webhook-id']}"),
        "Message": client.get("/v1/messages/MESSAGE-ID-123-xyz"),
        "MessagePage": client.get("/v1/messages"),
        "EventPage": client.get("/v1/events"),
        "Queued": send,
        "OutboxAction": client.get(f"/v1/actions/{send.json()['id']}"),
        "ActionPage": client.get("/v1/actions"),
        "OptOutList": client.get("/v1/opt-outs"),
        "ContactOptOut": client.get("/v1/opt-outs", params={"contact": "41793026799"}),
        "ReviewList": client.get("/v1/opt-outs/review"),
        "RunList": client.get("/v1/reconcile/runs"),
        "MaskingSessionList": client.get("/v1/masking/sessions"),
        "Health": client.get("/readyz"),
    }
    for name, response in answers.items():
        assert response.status_code in (200, 201, 202), (name, response.text)
        errors = list(_validator(name).iter_errors(response.json()))
        assert errors == [], (name, [e.message for e in errors])
