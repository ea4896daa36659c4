"""A route declared once: method, path and handler, the body and parameters
it reads, the answers it gives. The app is built from these declarations and
/openapi.json is generated from the app's routes, so the description can
neither miss a route nor describe one that is not served; the objects that
describe a body or a parameter are the ones that read and check it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from level4.api import body as b
from level4.api.http_errors import invalid

Handler = Callable[[Request], Awaitable[Response]]
SocketHandler = Callable[[WebSocket], Awaitable[None]]
JSON = "application/json"


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


# --- body fields ------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A non-empty string, trimmed; `choices` are described (the catalogue checks them)."""

    max_len: int = 200
    choices: tuple[str, ...] = ()

    def read(self, body: dict[str, Any], name: str, required: bool) -> str | None:
        return b.string(body, name, required=required, max_len=self.max_len)

    def schema(self, required: bool) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": self.max_len}
        if self.choices:
            schema["enum"] = list(self.choices)
        if not required:
            schema["nullable"] = True
        return schema


@dataclass(frozen=True)
class NameOrId:
    """A catalogue reference: a name, or an id."""

    def read(self, body: dict[str, Any], name: str, required: bool) -> str | int:
        return b.name_or_id(body, name)

    def schema(self, required: bool) -> dict[str, Any]:
        return {"oneOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 1}]}


@dataclass(frozen=True)
class Flag:
    def read(self, body: dict[str, Any], name: str, required: bool) -> bool:
        if not required and name not in body:
            return False  # an optional flag left out is off
        return b.boolean(body, name)

    def schema(self, required: bool) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Field:
    name: str
    kind: Text | NameOrId | Flag
    required: bool = True


class Body:
    """A JSON object with these fields and no others."""

    def __init__(self, *fields: Field) -> None:
        self.fields = fields
        self.names = {f.name for f in fields}

    async def read(self, request: Request) -> dict[str, Any]:
        body = await b.json_object(request)
        b.no_unknown_fields(body, self.names)
        return {f.name: f.kind.read(body, f.name, f.required) for f in self.fields}

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "required": [f.name for f in self.fields if f.required],
            "additionalProperties": False,
            "properties": {f.name: f.kind.schema(f.required) for f in self.fields},
        }


# --- parameters -------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketId:
    """The market id in the path: anything but a plausible id is an unknown market."""

    name: str = "id"

    def read(self, request: Request) -> int:
        return b.path_id(request.path_params[self.name])

    def parameter(self) -> dict[str, Any]:
        return {"name": self.name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


@dataclass(frozen=True)
class PathText:
    name: str
    description: str = ""
    example: str = ""
    pattern: str = ""

    def read(self, request: Request) -> str:
        return str(request.path_params[self.name])

    def parameter(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.pattern:
            schema["pattern"] = self.pattern
        return _described({"name": self.name, "in": "path", "required": True, "schema": schema}, self)


@dataclass(frozen=True)
class QueryInt:
    name: str
    low: int
    high: int
    default: int | None = None
    description: str = ""

    def read(self, request: Request) -> int | None:
        return b.query_int(request, self.name, self.default, self.low, self.high)

    def parameter(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer", "minimum": self.low, "maximum": self.high}
        if self.default is not None:
            schema["default"] = self.default
        return _described(_query(self.name, schema), self)


@dataclass(frozen=True)
class QueryBool:
    name: str
    description: str = ""

    def read(self, request: Request) -> bool | None:
        return b.query_bool(request, self.name)

    def parameter(self) -> dict[str, Any]:
        return _described(_query(self.name, {"type": "boolean"}), self)


@dataclass(frozen=True)
class QueryChoice:
    name: str
    choices: tuple[str, ...]
    default: str
    upper: bool = False  # case does not matter: the value is upper-cased first
    description: str = ""
    checked: bool = True  # False: the handler's parser checks it, and says why a value is refused

    def read(self, request: Request) -> str:
        raw = request.query_params.get(self.name, self.default)
        value = raw.upper() if self.upper else raw
        if self.checked and value not in self.choices:
            raise invalid(self.name, f"must be one of {', '.join(self.choices)}")
        return value

    def parameter(self) -> dict[str, Any]:
        return _described(
            _query(self.name, {"type": "string", "enum": list(self.choices), "default": self.default}), self
        )


@dataclass(frozen=True)
class QueryText:
    name: str
    description: str = ""
    example: str = ""

    def read(self, request: Request) -> str:
        return request.query_params.get(self.name, "")

    def parameter(self) -> dict[str, Any]:
        return _described(_query(self.name, {"type": "string"}), self)


Param = MarketId | PathText | QueryInt | QueryBool | QueryChoice | QueryText


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _described(parameter: dict[str, Any], param: Any) -> dict[str, Any]:
    if param.description:
        parameter["description"] = param.description
    if getattr(param, "example", ""):
        parameter["schema"]["example"] = param.example
    return parameter


# --- routes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    description: str
    schema: dict[str, Any] | None = None
    media: tuple[str, ...] = (JSON,)


@dataclass(frozen=True)
class Endpoint:
    """One operation: a method on a path."""

    method: str
    path: str
    handler: Handler
    summary: str
    answers: tuple[Answer, ...]
    body: Body | None = None
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()  # refusals of the handler's own (the guard's are added by method)
    needs: str | None = None  # "downstream", "metrics": served only when the service has it
    description: str = ""


@dataclass(frozen=True)
class Socket:
    """A websocket route, described as the GET that upgrades."""

    path: str
    handler: SocketHandler
    summary: str
    description: str = ""
    params: tuple[Param, ...] = ()
    needs: str | None = None


@dataclass(frozen=True)
class Described:
    """A route served by another module (the dashboard's), described here."""

    path: str
    summary: str
    answers: tuple[Answer, ...]
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    method: str = "GET"


class Resource(Route):
    """Every operation on one path as one Starlette route, so that a method
    not served is answered 405 with every method that is in `Allow`."""

    def __init__(self, path: str, endpoints: Mapping[str, Endpoint]) -> None:
        self.endpoints = dict(endpoints)

        async def dispatch(request: Request) -> Response:
            return await self.endpoints[request.method if request.method != "HEAD" else "GET"].handler(request)

        super().__init__(path, dispatch, methods=list(self.endpoints))


class SocketRoute(WebSocketRoute):
    """A websocket route with its declaration."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        super().__init__(socket.path, socket.handler)
