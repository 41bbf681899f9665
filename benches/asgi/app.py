"""The ASGI benchmark's FastAPI app: a plain-text route and a JSON route
with a path parameter and a validated query (what a model endpoint's
front does before the model)."""

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/", response_class=PlainTextResponse)
async def hello():
    return "Hello, World!"


@app.get("/json/{item_id}")
async def item(item_id: int, q: str = "none"):
    return {"item_id": item_id, "q": q, "tags": ["a", "b", "c"], "price": 9.99}
