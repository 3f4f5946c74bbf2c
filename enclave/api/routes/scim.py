"""/scim/v2: the tenant's directory (Okta, Entra ID) provisions users and groups (RFC 7643 / 7644).

Discovery (`ServiceProviderConfig`, `ResourceTypes`, `Schemas`), then `Users` and `Groups`: create, read, list and
search (`filter`, `startIndex`, `count`, `attributes`, `excludedAttributes`), replace, patch, delete, with ETags.
Routes only parse the request and render what the use cases (enclave/services/scim.py) return; they are not in
the OpenAPI document, since SCIM describes itself. Everything else under /scim/v2 answers a SCIM 404 (or 405 with
`Allow` on a known path), after authentication."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from scim2_models import (
    Context,
    Group,
    InvalidFilterException,
    Meta,
    NotFoundException,
    NotImplementedException,
    Resource,
    ResponseParameters,
    SearchRequest,
)
from starlette.concurrency import run_in_threadpool

from auth.scim.directory import Listed, Page, not_modified, validated
from auth.scim.filters import MAX_FILTER_LENGTH
from auth.scim.schema import CONFIG, MAX_RESULTS, PROVIDER, User
from enclave.api.scim import (
    SCIM_PREFIX,
    ScimRoute,
    base_url,
    body_response,
    no_filter,
    read_json,
    read_json_object,
    resource_response,
    scim_error,
)
from enclave.http.deps import AccessDep, ServicesDep

router = APIRouter(route_class=ScimRoute, include_in_schema=False, tags=["scim"])
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_RESPONSE_KEYS = ("attributes", "excludedAttributes")
_SEARCH_KEYS = ("filter", "startIndex", "count", *_RESPONSE_KEYS)
# the discovery endpoints that list what the service serves: the kind of each item, and the items
_DISCOVERY: dict[str, tuple[str, tuple[Resource[Any], ...]]] = {
    "ResourceTypes": ("ResourceType", PROVIDER.resource_types),
    "Schemas": ("Schema", PROVIDER.schemas),
}


# -- reading requests ------------------------------------------------------------------------------------------
def _response_parameters(model: type[Resource[Any]], query: Mapping[str, Any]) -> ResponseParameters[Any]:
    """`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5), for any request that returns a resource."""
    chosen = {key: query[key] for key in _RESPONSE_KEYS if key in query}
    return validated(ResponseParameters[model], chosen, Context.DEFAULT)  # type: ignore[valid-type]


def _search(model: type[Resource[Any]], query: Mapping[str, Any]) -> tuple[SearchRequest[Any], Page]:
    """A list or search request (RFC 7644 §3.4.2, §3.4.3): its filter parsed by scim2-models against `model`,
    its page within `MAX_RESULTS` (a larger `count` is lowered, a negative one is 0, `startIndex` below 1 is 1)."""
    if "sortBy" in query or "sortOrder" in query:
        raise NotImplementedException(detail="sorting is not supported (see ServiceProviderConfig)")
    text = query.get("filter")
    if isinstance(text, str) and len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterException(detail=f"a filter is at most {MAX_FILTER_LENGTH} characters")
    chosen = {key: query[key] for key in _SEARCH_KEYS if key in query}
    search = validated(SearchRequest[model], chosen, Context.SEARCH_REQUEST)  # type: ignore[valid-type]
    count = MAX_RESULTS if search.count is None else min(max(search.count, 0), MAX_RESULTS)
    return search, Page(max(search.start_index or 1, 1), count)


def _wants_members(parameters: ResponseParameters[Any]) -> bool:
    """Whether a group's members are asked for (Entra asks without them: `excludedAttributes=members`)."""
    excluded = {str(path).lower() for path in parameters.excluded_attributes or []}
    if "members" in excluded:
        return False
    asked = [str(path).lower() for path in parameters.attributes or []]
    return not asked or any(path.startswith("members") for path in asked)


def _list_response(found: Listed[Any], page: Page, parameters: ResponseParameters[Any]) -> Response:
    resources = [r.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=parameters) for r in found.rows]
    return body_response(
        {
            "schemas": [LIST_RESPONSE],
            "totalResults": found.total,
            "startIndex": page.start_index,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


def _read(resource: Resource[Any], request: Request, parameters: ResponseParameters[Any]) -> Response:
    assert resource.meta is not None
    assert resource.meta.version is not None
    if not_modified(resource.meta.version, request.headers.get("if-none-match")):
        return Response(status_code=304, headers={"ETag": resource.meta.version})
    return resource_response(resource, Context.RESOURCE_QUERY_RESPONSE, parameters)


# -- discovery (RFC 7644 §4) -----------------------------------------------------------------------------------
def _discovered(resource: Resource[Any], kind: str, location: str) -> dict[str, Any]:
    located = resource.model_copy(update={"meta": Meta(resource_type=kind, location=location)})
    return located.model_dump(scim_ctx=Context.DEFAULT)


def _discovery_list(items: list[dict[str, Any]]) -> Response:
    return body_response(
        {
            "schemas": [LIST_RESPONSE],
            "totalResults": len(items),
            "startIndex": 1,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@router.get("/ServiceProviderConfig")
def service_provider_config(request: Request) -> Response:
    no_filter(request)
    return body_response(_discovered(CONFIG, "ServiceProviderConfig", f"{base_url(request)}/ServiceProviderConfig"))


def _discovery_collection(request: Request, endpoint: str) -> Response:
    no_filter(request)
    kind, items = _DISCOVERY[endpoint]
    where = f"{base_url(request)}/{endpoint}"
    return _discovery_list([_discovered(item, kind, f"{where}/{item.id}") for item in items])


def _discovery_item(request: Request, endpoint: str, item_id: str) -> Response:
    no_filter(request)
    kind, items = _DISCOVERY[endpoint]
    for found in items:
        if found.id == item_id:
            return body_response(_discovered(found, kind, f"{base_url(request)}/{endpoint}/{found.id}"))
    raise NotFoundException(detail=f"no such {kind}")


@router.get("/ResourceTypes")
def resource_types(request: Request) -> Response:
    return _discovery_collection(request, "ResourceTypes")


@router.get("/ResourceTypes/{type_id}")
def resource_type(request: Request, type_id: str) -> Response:
    return _discovery_item(request, "ResourceTypes", type_id)


@router.get("/Schemas")
def schemas(request: Request) -> Response:
    return _discovery_collection(request, "Schemas")


@router.get("/Schemas/{schema_id}")
def schema(request: Request, schema_id: str) -> Response:
    return _discovery_item(request, "Schemas", schema_id)


# -- users (RFC 7644 §3) ----------------------------------------------------------------------------------------
@router.get("/Users")
def list_users(request: Request, services: ServicesDep, access: AccessDep) -> Response:
    search, page = _search(User, request.query_params)
    node = search.filter.ast if search.filter else None
    return _list_response(services.scim.list_users(access, node, page, base_url(request)), page, search)


@router.post("/Users/.search")
async def search_users(request: Request, services: ServicesDep, access: AccessDep) -> Response:
    search, page = _search(User, await read_json_object(request))
    node = search.filter.ast if search.filter else None
    found = await run_in_threadpool(services.scim.list_users, access, node, page, base_url(request))
    return _list_response(found, page, search)


@router.post("/Users")
async def create_user(request: Request, services: ServicesDep, access: AccessDep) -> Response:
    parameters = _response_parameters(User, request.query_params)
    body = await read_json(request)
    created = await run_in_threadpool(services.scim.create_user, access, body, base_url(request))
    return resource_response(created, Context.RESOURCE_CREATION_RESPONSE, parameters, status=201)


@router.get("/Users/{scim_id}")
def get_user(request: Request, scim_id: str, services: ServicesDep, access: AccessDep) -> Response:
    parameters = _response_parameters(User, request.query_params)
    return _read(services.scim.user(access, scim_id, base_url(request)), request, parameters)


@router.put("/Users/{scim_id}")
async def replace_user(request: Request, scim_id: str, services: ServicesDep, access: AccessDep) -> Response:
    parameters = _response_parameters(User, request.query_params)
    body = await read_json(request)
    replaced = await run_in_threadpool(
        services.scim.replace_user, access, scim_id, body, base_url(request), request.headers.get("if-match")
    )
    return resource_response(replaced, Context.RESOURCE_REPLACEMENT_RESPONSE, parameters)


@router.patch("/Users/{scim_id}")
async def patch_user(request: Request, scim_id: str, services: ServicesDep, access: AccessDep) -> Response:
    parameters = _response_parameters(User, request.query_params)
    body = await read_json(request)
    patched = await run_in_threadpool(
        services.scim.patch_user, access, scim_id, body, base_url(request), request.headers.get("if-match")
    )
    return resource_response(patched, Context.RESOURCE_PATCH_RESPONSE, parameters)


@router.delete("/Users/{scim_id}", status_code=204)
def delete_user(request: Request, scim_id: str, services: ServicesDep, access: AccessDep) -> Response:
    services.scim.delete_user(access, scim_id, request.headers.get("if-match"))
    return Response(status_code=204)


# -- groups -----------------------------------------------------------------------------------------------------
@router.get("/Groups")
def list_groups(request: Request, services: ServicesDep, access: AccessDep) -> Response:
    search, page = _search(Group, request.query_params)
    node = search.filter.ast if search.filter else None
    found = services.scim.list_groups(access, node, page, base_url(request), members=_wants_members(search))
    return _list_response(found, page, search)


@router.post("/Groups/.search")
async def search_groups(request: Request, services: ServicesDep, access: AccessDep) -> Response:
    search, page = _search(Group, await read_json_object(request))
    node = search.filter.ast if search.filter else None
    found = await run_in_threadpool(
        lambda: services.scim.list_groups(access, node, page, base_url(request), members=_wants_members(search))
    )
    return _list_response(found, page, search)


@router.post("/Groups")
async def create_group(request: Request, services: ServicesDep, access: AccessDep) -> Response:
    parameters = _response_parameters(Group, request.query_params)
    body = await read_json(request)
    created = await run_in_threadpool(services.scim.create_group, access, body, base_url(request))
    return resource_response(created, Context.RESOURCE_CREATION_RESPONSE, parameters, status=201)


@router.get("/Groups/{group_id}")
def get_group(request: Request, group_id: str, services: ServicesDep, access: AccessDep) -> Response:
    parameters = _response_parameters(Group, request.query_params)
    found = services.scim.group(access, group_id, base_url(request), members=_wants_members(parameters))
    return _read(found, request, parameters)


@router.put("/Groups/{group_id}")
async def replace_group(request: Request, group_id: str, services: ServicesDep, access: AccessDep) -> Response:
    parameters = _response_parameters(Group, request.query_params)
    body = await read_json(request)
    replaced = await run_in_threadpool(
        services.scim.replace_group, access, group_id, body, base_url(request), request.headers.get("if-match")
    )
    return resource_response(replaced, Context.RESOURCE_REPLACEMENT_RESPONSE, parameters)


@router.patch("/Groups/{group_id}")
async def patch_group(request: Request, group_id: str, services: ServicesDep, access: AccessDep) -> Response:
    """204 with the new ETag, or the group when `attributes` / `excludedAttributes` ask for it: a large group's
    members are not sent back with every change (Entra: "returning a body with a list of all the members isn't
    advisable")."""
    parameters = _response_parameters(Group, request.query_params)
    body = await read_json(request)
    patched = await run_in_threadpool(
        services.scim.patch_group, access, group_id, body, base_url(request), request.headers.get("if-match")
    )
    if not (parameters.attributes or parameters.excluded_attributes):
        assert patched.meta is not None
        assert patched.meta.version is not None
        return Response(status_code=204, headers={"ETag": patched.meta.version})
    return resource_response(patched, Context.RESOURCE_PATCH_RESPONSE, parameters)


@router.delete("/Groups/{group_id}", status_code=204)
def delete_group(request: Request, group_id: str, services: ServicesDep, access: AccessDep) -> Response:
    services.scim.delete_group(access, group_id, request.headers.get("if-match"))
    return Response(status_code=204)


# -- what Enclave does not offer, and everything else -------------------------------------------------------------
@router.post("/.search")
@router.post("/Bulk")
@router.api_route("/Me", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_offered() -> Response:
    """Searching every resource type at once, bulk requests (ServiceProviderConfig says so) and /Me (the token
    is the directory's, no user's) are not implemented: RFC 7644 §3.12 answers 501."""
    raise NotImplementedException(detail="not supported by this service provider (see ServiceProviderConfig)")


ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route("/{rest:path}", methods=ANY_METHOD)
def unknown(request: Request) -> Response:
    """No such endpoint (404), or a method the endpoint does not take (405 with `Allow`)."""
    path = request.url.path.removeprefix(SCIM_PREFIX)
    allowed: set[str] = set()
    for route in router.routes:
        if isinstance(route, ScimRoute) and route.endpoint is not unknown and route.path_regex.match(path):
            allowed |= route.methods or set()
    if allowed:
        return scim_error(405, "method not allowed on this endpoint", headers={"Allow": ", ".join(sorted(allowed))})
    raise NotFoundException(detail="no such endpoint")
