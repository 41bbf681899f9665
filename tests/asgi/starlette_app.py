"""A Starlette app without FastAPI (tests/asgi.rs): routing, a request's
form body, a streaming response, a background task and lifespan state."""

import asyncio
import contextlib

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

DONE = []


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"greeting": "hello from lifespan"}


async def home(request):
    return PlainTextResponse(request.state.greeting)


async def user(request):
    return JSONResponse({"name": request.path_params["name"], "page": request.query_params.get("page")})


async def form(request):
    data = await request.form()
    return JSONResponse(dict(data))


async def countdown(request):
    async def numbers():
        for i in range(3, 0, -1):
            yield f"{i}\n".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(numbers(), media_type="text/plain")


async def later(request):
    return JSONResponse({"accepted": True}, background=BackgroundTask(DONE.append, "ran"))


async def done(request):
    return JSONResponse({"done": DONE})


app = Starlette(
    routes=[
        Route("/", home),
        Route("/users/{name}", user),
        Route("/form", form, methods=["POST"]),
        Route("/countdown", countdown),
        Route("/later", later, methods=["POST"]),
        Route("/done", done),
    ],
    lifespan=lifespan,
)
