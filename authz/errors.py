"""The domain's error family. One base class; the HTTP layer maps each kind to a status.

`NotFound` is raised when the caller may not even read a resource (so another tenant's ids
are never confirmed), `Forbidden` when they can read it but not perform the action.
"""

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error the service reports to a client on purpose.

    `extra` goes into the response body; `decision`, when an authorization refused, is the
    engine's own (kept for the audit trail, never sent).
    """

    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, decision: Any = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.decision = decision
        self.extra = extra


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know that it does."""

    code = "not_found"


class Forbidden(DomainError):
    """The caller can see the resource but lacks the permission named in `extra`."""

    code = "forbidden"


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, last admin, ...)."""

    code = "conflict"


class InvalidInput(DomainError):
    """The request is well-formed but asks for something the rules refuse."""

    code = "invalid"
