"""The FastAPI application: versioned routes under /v1, JSON errors for every failure.

Every answer that is not a success is `{"error": {"code", "message"}}` with the status the
OpenAPI description lists; an unexpected failure is a 500 with a reference to the server log,
never a traceback."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.exceptions import HTTPException as StarletteHTTPException

from review import api_read
from review.errors import AuthenticationError, ConfigError, CountersignError, InvalidInput, NotFound, PermissionDenied, WorkflowError

from .deps import bearer, call, open_engine, ping
from .schemas import CampaignList, CampaignOut, ErrorBody, Health, MessageList, RecallList

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger("countersign.api")

Auth = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
CampaignId = Annotated[int, Path(ge=1, le=2_147_483_647, description="The campaign's id.")]
CampaignCursor = Annotated[str | None, Query(pattern=api_read.CAMPAIGN_CURSOR, description="The `next_cursor` of the previous page; omit for the first page.")]
MessageCursor = Annotated[str | None, Query(pattern=api_read.MESSAGE_CURSOR, description="The `next_cursor` of the previous page; omit for the first page.")]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Bad cursor or parameter value.",
        401: "Missing, invalid, expired or revoked token.",
        403: "The token lacks the scope this needs.",
        404: "No such published campaign for this token.",
        409: "The export does not verify against its recorded hash or the audit trail (it is not served), or the cursor belongs to another export.",
        422: "A parameter has the wrong type or is out of range.",
    }
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


def _error(status: int, code: str, message: str, details: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


_BY_CLASS: list[tuple[type[CountersignError], int, str]] = [
    (AuthenticationError, 401, "unauthorized"),
    (PermissionDenied, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (InvalidInput, 400, "invalid_request"),
    (WorkflowError, 409, "conflict"),
]


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(CountersignError)
    async def domain_error(request: Request, exc: CountersignError) -> JSONResponse:
        for cls, status, code in _BY_CLASS:
            if isinstance(exc, cls):
                if status == 401:
                    log.info("refused API request %s %s: %s", request.method, request.url.path, exc)
                    return _error(status, code, str(exc), headers={"WWW-Authenticate": "Bearer"})
                return _error(status, code, str(exc))
        if isinstance(exc, ConfigError):  # names server paths: logged, not shown to a client
            log.error("API %s %s: configuration error: %s", request.method, request.url.path, exc)
            return _error(503, "unavailable", "the server's configuration is incomplete; its operators have been told in the log")
        return _error(409, "conflict", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"parameter": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()]
        shown = "; ".join(f"{d['parameter']}: {d['message']}" for d in details[:3])
        return _error(422, "invalid_request", f"invalid request: {shown}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        log.exception("API %s %s failed (reference %s)", request.method, request.url.path, ref)
        return _error(500, "internal_error", f"internal error (reference {ref}); the server log has the details")


def no_unknown_query(request: Request) -> None:
    """A misspelt parameter (`limt=10`) is refused, not silently ignored."""
    route = request.scope.get("route")
    known = {p.alias for p in route.dependant.query_params} if route is not None and hasattr(route, "dependant") else set()
    unknown = sorted(k for k in request.query_params if k not in known)
    if unknown:
        raise RequestValidationError([{"loc": ("query", unknown[0]), "msg": "unknown parameter", "type": "extra_forbidden"}])


def create_app(engine: Engine | None = None) -> FastAPI:
    """The app over `engine` (default: COUNTERSIGN_DATABASE_URL, migrated)."""
    app = FastAPI(
        title="Countersign API for sending systems",
        version="1.0.0",
        description=(
            "Read-only access to published campaigns and their messages: the exact, human-approved text of every recipient's "
            "message, as exported. Authenticate with `Authorization: Bearer <token>`. Pages are cursor-based and stable. "
            "Publish and withdraw events are also pushed as signed webhooks (README, 'API for sending systems')."
        ),
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        dependencies=[Depends(no_unknown_query)],
    )
    app.state.engine = engine if engine is not None else open_engine()
    _install_handlers(app)

    @app.middleware("http")
    async def no_store(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        log.info("%s %s -> %s (token %s)", request.method, request.url.path, response.status_code, getattr(request.state, "token", "-"))
        # Messages hold personal data: no shared cache may keep them.
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/v1/health", response_model=Health, tags=["service"], summary="Liveness and database reachability (no token needed)")
    def health(request: Request) -> Health:
        ping(request)
        return Health(status="ok")

    @app.get(
        "/v1/campaigns", response_model=CampaignList, tags=["campaigns"], summary="Published campaigns, oldest first", responses=_errors(400, 401, 403, 422)
    )
    def campaigns(request: Request, auth: Auth, cursor: CampaignCursor = None, limit: Annotated[int, Query(ge=1, le=api_read.MAX_PAGE)] = 50) -> CampaignList:
        """Needs `campaigns:read`. A token restricted to a brand sees that brand's campaigns only."""
        page = call(request, auth, api_read.list_campaigns, cursor=cursor, limit=limit)
        return CampaignList(items=[CampaignOut(**vars(c)) for c in page.items], next_cursor=page.next_cursor)

    @app.get(
        "/v1/campaigns/{campaign_id}", response_model=CampaignOut, tags=["campaigns"], summary="One published campaign", responses=_errors(401, 403, 404, 422)
    )
    def campaign(request: Request, auth: Auth, campaign_id: CampaignId) -> CampaignOut:
        """Needs `campaigns:read`."""
        return CampaignOut(**vars(call(request, auth, api_read.get_campaign, campaign_id)))

    @app.get(
        "/v1/campaigns/{campaign_id}/messages",
        response_model=MessageList,
        tags=["messages"],
        summary="A page of a published campaign's messages, one per recipient",
        responses=_errors(400, 401, 403, 404, 409, 422),
    )
    def messages(
        request: Request,
        auth: Auth,
        campaign_id: CampaignId,
        cursor: MessageCursor = None,
        limit: Annotated[int, Query(ge=1, le=api_read.MAX_PAGE)] = 100,
        status: Annotated[Literal["published", "withdrawn", "all"], Query(description="published: what may be sent; withdrawn: recalled")] = "published",
    ) -> MessageList:
        """Needs `messages:read`. The same text as the export's JSONL, in the same (recipient) order, after checking the
        file against its recorded hash and the audit trail."""
        page = call(request, auth, api_read.list_messages, campaign_id, cursor=cursor, limit=limit, status=status)
        return MessageList.model_validate(vars(page))

    @app.get(
        "/v1/campaigns/{campaign_id}/recalls",
        response_model=RecallList,
        tags=["campaigns"],
        summary="Audience groups withdrawn after publishing: do not send their messages",
        responses=_errors(401, 403, 404, 422),
    )
    def recalls(request: Request, auth: Auth, campaign_id: CampaignId) -> RecallList:
        """Needs `campaigns:read`."""
        items = call(request, auth, api_read.list_recalls, campaign_id)
        return RecallList.model_validate({"campaign_id": campaign_id, "items": [vars(r) for r in items]})

    return app
