"""Every kind of type hint `tandem types` reads (tests/types.rs).

Second paragraph, left out of the module comment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import (Any, AsyncIterator, Callable, Iterator, Literal, NamedTuple,
                    NotRequired, Optional, TypedDict, Union, overload)

import numpy as np
import numpy.typing as npt

import tandem

VERSION = "1.0"
LIMIT: int = 10
RATIO = -0.5
Vector = list[float]


class Label(str, Enum):
    """A sentiment label: crosses as its string value."""
    NEGATIVE = "negative"
    POSITIVE = "positive"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


class Color(Enum):
    RED = 1
    GREEN = 2


class Scores(TypedDict):
    """Per-label scores."""
    negative: float
    positive: float
    note: NotRequired[str]


class Point(NamedTuple):
    x: float
    y: float


@dataclass
class Settings:
    """Model settings."""
    name: str
    threshold: float = 0.5
    tags: list[str] = field(default_factory=list)


class ModelError(Exception):
    """A model failure with a machine-readable code."""

    def __init__(self, message: str, code: int = 500):
        super().__init__(message)
        self.code = code


class Model:
    """A loaded model."""

    kind: str

    def __init__(self, name: str, *, version: int = 1):
        self.name = name
        self.loaded: bool = True
        self._cache = {}

    def predict(self, text: str) -> Scores:
        """Scores one text."""
        return {"negative": 0.1, "positive": 0.9}

    async def predict_async(self, text: str) -> Label:
        return Label.POSITIVE

    @property
    def size(self) -> int:
        return 3

    @staticmethod
    def load(path: str) -> "Model":
        return Model(path)

    @classmethod
    def default(cls) -> Model:
        return cls("default")

    def _private(self):
        pass


def sentiment(text: str) -> Scores:
    """Classifies `text`.

    Returns the score of each label.
    """
    return {"negative": 0.1, "positive": 0.9}


def label(text: str, threshold: float = 0.5) -> Label:
    return Label.POSITIVE


def top(texts: list[str], *, k: int = 3, labels: Optional[list[Label]] = None) -> list[tuple[str, float]]:
    return [(t, 1.0 / (i + 1)) for i, t in enumerate(texts[:k])]


def search(query: str, **filters: str) -> list[dict[str, Any]]:
    return [{"query": query, **filters}]


def total(*values: float) -> float:
    return sum(values)


def embed(text: str | bytes) -> npt.NDArray[np.float32]:
    return np.zeros(3, dtype=np.float32)


def matrix(rows: np.ndarray) -> np.ndarray:
    return rows


def mode(name: Literal["fast", "exact"], level: Level = Level.LOW) -> Literal[1, 2, None]:
    return None


def apply(fn: Callable[[str, int], bool], items: list[str]) -> Union[int, None]:
    return sum(1 for i, item in enumerate(items) if fn(item, i))


def tokens(text: str) -> Iterator[str]:
    yield from text.split()


def untyped_tokens(text):
    yield text


async def fetch(url: str) -> bytes:
    return url.encode()


async def stream(n: int) -> AsyncIterator[int]:
    yield n


@tandem.batch(max_size=8)
def batched(texts: list[str]) -> list[Scores]:
    return [sentiment(t) for t in texts]


@overload
def parse(value: str) -> int: ...
@overload
def parse(value: bytes) -> float: ...
def parse(value):
    return int(value) if isinstance(value, str) else float(len(value))


def shape(points: list[Point], settings: Settings, color: Color) -> Vector:
    return [float(len(points)), settings.threshold, float(color.value)]


def untyped(a, b=1):
    return a


def _hidden(x: int) -> int:
    return x
