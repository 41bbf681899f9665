"""The ML API's sentiment route on FastAPI (served by uvicorn or granian).
A plain `def` route: FastAPI runs it on its thread pool, as it would any
blocking model call."""

from fastapi import FastAPI
from pydantic import BaseModel, Field

from peer_common import ml_service

app = FastAPI()


class SentimentRequest(BaseModel):
    text: str = Field(min_length=1, max_length=10000)


@app.post("/api/sentiment")
def sentiment(body: SentimentRequest):
    return ml_service.sentiment(body.text)
