"""A FastAPI app exercising what tests/asgi.rs checks over loopback:
validation errors, path and query parameters, request bodies (also
streamed), streaming responses, background tasks, lifespan state and
exception handlers."""

import asyncio
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

EVENTS = []


@asynccontextmanager
async def lifespan(app):
    EVENTS.append("startup")
    yield {"model": "sentiment-v1"}
    EVENTS.append("shutdown")
    print("lifespan: shutdown ran", flush=True)


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


class ModelError(Exception):
    def __init__(self, code):
        self.code = code


@app.exception_handler(ModelError)
async def model_error(request, exc):
    return JSONResponse({"error": "model failed", "code": exc.code}, status_code=422)


@app.get("/")
async def root(request: Request):
    return {"hello": "asgi", "model": request.state.model, "events": EVENTS}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return {"created": item.model_dump(), "total": item.price * 2}


@app.post("/echo")
async def echo(request: Request):
    size = 0
    chunks = 0
    async for chunk in request.stream():
        size += len(chunk)
        chunks += 1 if chunk else 0
    return {"bytes": size, "chunks": chunks}


@app.get("/stream")
async def stream(n: int = 3):
    async def numbers():
        for i in range(n):
            yield f"line {i}\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(numbers(), media_type="text/plain")


TASKS = []


@app.post("/tasks")
async def add_task(background: BackgroundTasks, name: str):
    background.add_task(TASKS.append, name)
    return {"queued": name}


@app.get("/tasks")
async def list_tasks():
    return {"done": TASKS}


@app.get("/fail")
async def fail():
    raise ModelError("E42")


@app.get("/missing")
async def missing():
    raise HTTPException(status_code=404, detail="no such thing")


@app.get("/crash")
async def crash():
    raise RuntimeError("unhandled")


@app.get("/slow")
async def slow(seconds: float = 5):
    try:
        await asyncio.sleep(seconds)
    finally:
        EVENTS.append("slow finally")
    return {"slept": seconds}


@app.get("/bad-header")
async def bad_header():
    return JSONResponse({"ok": True}, headers={"x-evil": "a\r\nSet-Cookie: injected=1"})
