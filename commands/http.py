"""HTTP command routes, generated from the routing table: POST /commands/<kebab-name> per command."""

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from aggregates.errors import InvalidValueError
from commands.onec_formats import FileFormatError, parse_catalog
from commands.routing import COMMANDS
from commands.service import CommandService
from schemas.auth import Caller
from schemas.base import CommandAccepted
from schemas.catalog import ImportCatalog

ERRORS = {
    401: {"description": "No token, or an expired one"},
    403: {"description": "The caller's role may not issue this command"},
    404: {"description": "Unknown id"},
    409: {"description": "Illegal transition or concurrent change; says what is allowed"},
    422: {"description": "Invalid input: names the field and the reason"},
}
FILE_TYPES = {"application/xml": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}


def path_for(command: type) -> str:
    return "/" + re.sub(r"(?<!^)(?=[A-Z])", "-", command.__name__).lower().replace("1-c", "1c")


def build_router(service: CommandService, authenticate: Callable[..., Caller]) -> APIRouter:
    router = APIRouter(prefix="/commands", responses=ERRORS)
    CallerDep = Annotated[Caller, Depends(authenticate)]

    for command, route in COMMANDS.items():
        if command is ImportCatalog:  # takes a file: see import_catalog_file below
            continue
        router.add_api_route(
            path_for(command),
            _endpoint(service, command, CallerDep),
            methods=["POST"],
            response_model=CommandAccepted,
            tags=[f"commands: {route.tag}"],
            summary=re.sub(r"(?<!^)(?=[A-Z])", " ", command.__name__).capitalize(),
            description=(command.__doc__ or "").strip(),
            name=command.__name__,
        )

    @router.post(
        "/catalog/import",
        response_model=CommandAccepted,
        tags=["commands: catalog"],
        openapi_extra={"requestBody": {"required": True, "content": FILE_TYPES}},
    )
    async def import_catalog_file(
        request: Request,
        caller: CallerDep,
        source: Annotated[str, Query(min_length=1, max_length=200)] = "upload",
    ) -> CommandAccepted:
        """Import the product catalog from a 1C file (CommerceML 2 `import.xml` or CSV) sent as the body."""
        try:
            records = parse_catalog(await request.body())
        except FileFormatError as exc:
            raise InvalidValueError("file", str(exc)) from None
        return await run_in_threadpool(service.handle, ImportCatalog(source=source, records=records), caller)

    return router


def _endpoint(service: CommandService, command: type, caller_dep) -> Callable:
    def endpoint(body: command, caller: caller_dep) -> CommandAccepted:  # type: ignore[valid-type]
        return service.handle(body, caller)

    return endpoint
