# lazy-model ships no type information, so without this stub mypy takes its LazyModel for
# `Any`: every Beanie Document (a LazyModel) would then accept any attribute, and a
# misspelt field (`ticket.subjet`) would pass `mypy --strict` unnoticed. Its real base is
# pydantic's BaseModel, which is all mypy needs to know.
from typing import Any, Self

from pydantic import BaseModel

class LazyModel(BaseModel):
    @classmethod
    def lazy_parse(cls, data: dict[str, Any], fields: set[str] | None = None) -> Self: ...

class NotAnObject: ...

NAO: NotAnObject
