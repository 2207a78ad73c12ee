"""The typed per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from auth.principal import Principal
from domain.services.runtime import Runtime
from schema.loaders import Loaders


@dataclass
class Context:
    principal: Principal
    runtime: Runtime
    request: Any = None
    response: Any = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.principal)


Info = StrawberryInfo[Context, None]
