"""Errors that name what an operator must check: the endpoint and the setting behind it."""

from __future__ import annotations


class EndpointUnreachable(RuntimeError):
    """An external service (artifact store, registry) did not answer within the configured time.

    The message's first line names the endpoint and the setting to check; the detail follows."""

    def __init__(self, what: str, endpoint: str, settings: str, detail: str) -> None:
        self.endpoint = endpoint
        self.settings = settings
        super().__init__(f"{what} {endpoint} is unreachable (check {settings})\n{detail}")
