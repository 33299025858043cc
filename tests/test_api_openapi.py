"""The OpenAPI document a client generator reads, and /docs, which must work with no network."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from core.api import schemas, schemas_board, schemas_landing

ANY_REQUEST = {"401", "403", "422", "429", "503"}  # tokens, names and origins, parameters, rate, busy store


@pytest.fixture
async def document(client) -> dict:
    return (await client.get("/openapi.json")).json()


def responses(document: dict, method: str, path: str) -> set[str]:
    return set(document["paths"][path][method]["responses"])


async def test_every_route_is_described_with_its_models_and_a_short_unique_operation_id(document):
    paths = document["paths"]
    for path in ("/api/projects", "/api/projects/{project_id}/repos", "/api/agents/{agent_id}", "/api/runs",
                 "/api/runs/{run_id}/events/stream", "/api/runs/{run_id}/approvals/allow",
                 "/api/runs/{run_id}/diff-stats", "/api/projects/{project_id}/webhooks", "/api/health"):
        assert path in paths
    ids = [operation["operationId"] for operations in paths.values() for operation in operations.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+([A-Z][a-z]+)*", i) and len(i) <= 24 for i in ids), ids
    assert paths["/api/runs"]["get"]["operationId"] == "listRuns"
    assert paths["/api/runs"]["post"]["operationId"] == "createRun"
    assert paths["/api/runs/{run_id}/approvals/allow"]["post"]["operationId"] == "allowApproval"
    for path, operations in paths.items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert "$ref" in json.dumps(operation["requestBody"]), (method, path)
            assert {"200", "201", "204"} & set(operation["responses"]), (method, path)
            for status, answer in operation["responses"].items():
                if status >= "400":
                    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    error_schema = document["components"]["schemas"]["ErrorBody"]
    assert error_schema["properties"]["error"]["$ref"].endswith("/ErrorInfo")


async def test_each_operation_lists_only_the_errors_it_can_give(document):
    assert responses(document, "get", "/api/health") == {"200"} | ANY_REQUEST
    assert responses(document, "get", "/api/projects") == {"200"} | ANY_REQUEST
    assert responses(document, "post", "/api/projects") == {"201", "400", "409", "413", "415"} | ANY_REQUEST
    assert responses(document, "get", "/api/runs/{run_id}") == {"200", "400", "404"} | ANY_REQUEST
    assert responses(document, "post", "/api/runs/{run_id}/cancel") == {"200", "400", "404", "409"} | ANY_REQUEST
    assert responses(document, "post", "/api/runs/{run_id}/approvals/allow") == \
        {"200", "400", "404", "409", "413", "415"} | ANY_REQUEST
    assert responses(document, "get", "/api/webhooks/{webhook_id}") == {"200", "404"} | ANY_REQUEST
    assert responses(document, "post", "/api/queue/pause") == {"200"} | ANY_REQUEST
    assert "X-Total-Count" in document["paths"]["/api/runs"]["get"]["responses"]["200"]["headers"]


async def test_the_bearer_token_is_declared_and_streams_also_take_it_as_access_token(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerToken"] == schemes["bearerToken"] | {"type": "http", "scheme": "bearer"}
    assert schemes["accessToken"] == schemes["accessToken"] | {"type": "apiKey", "in": "query", "name": "access_token"}
    paths = document["paths"]
    assert paths["/api/health"]["get"]["security"] == []
    assert paths["/api/runs"]["post"]["security"] == [{"bearerToken": []}]
    for stream in ("/api/runs/{run_id}/events/stream", "/api/projects/{project_id}/events"):
        assert paths[stream]["get"]["security"] == [{"bearerToken": []}, {"accessToken": []}]


async def test_the_websocket_is_described_where_openapi_has_room_for_it(document):
    description = document["info"]["description"]
    assert "/api/runs/{run_id}/ws" in description
    assert '{"type": "approve"' in description and '{"type": "ping"}' in description


@pytest.mark.parametrize("body", [
    schemas.ProjectIn, schemas.RepoIn, schemas.AgentIn, schemas.AgentUpdate, schemas.RunIn, schemas.AllowIn,
    schemas.DenyIn, schemas.ContinueIn, schemas.ForkIn, schemas.WebhookIn, schemas.ContextIn, schemas_landing.MergeIn,
    schemas_landing.RejectIn, schemas_landing.RenameBranchIn, schemas_board.PlanIn, schemas_board.TaskIn,
    schemas_board.TaskUpdate])
async def test_the_main_request_bodies_have_examples_the_api_takes(document, body):
    [example] = document["components"]["schemas"][body.__name__]["examples"]
    body.model_validate(example)


class Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


async def test_the_docs_page_loads_its_assets_from_this_server(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    found = Assets()
    found.feed(page.text)
    assert len(found.urls) == 3 and all(url.startswith("/docs/assets/") for url in found.urls), found.urls
    assert "://" not in page.text.replace("window.location.origin", "")
    for url in found.urls:
        asset = await client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
    script = await client.get(next(url for url in found.urls if url.endswith(".js")))
    assert "javascript" in script.headers["content-type"] and b"SwaggerUIBundle" in script.content
