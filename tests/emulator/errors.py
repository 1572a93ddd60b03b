"""Errors the emulator answers with, in Discord's JSON shape."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error response: HTTP status plus Discord's JSON error body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """Return the JSON body Discord sends with this error."""
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


def missing_permissions() -> ApiError:
    """The bot lacks a permission it needs (403, code 50013)."""
    return ApiError(403, 50013, "Missing Permissions")


def missing_access() -> ApiError:
    """The bot cannot see the channel at all (403, code 50001)."""
    return ApiError(403, 50001, "Missing Access")


def unknown(kind: str) -> ApiError:
    """A resource that does not exist (404 with Discord's code for its kind)."""
    codes = {
        "Channel": 10003,
        "Guild": 10004,
        "Member": 10007,
        "Message": 10008,
        "Role": 10011,
        "User": 10013,
        "Webhook": 10015,
        "Interaction": 10062,
        "application command": 10063,
        "Attachment": 10005,
    }
    return ApiError(404, codes.get(kind, 0), f"Unknown {kind}")


class FormErrors:
    """Collects field errors and raises them as one 400 "Invalid Form Body" (code 50035)."""

    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}

    def add(self, path: str, code: str, message: str) -> None:
        """Record an error for a dotted field path such as ``embeds.0.title``."""
        node = self.errors
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def raise_if_any(self) -> None:
        """Raise the collected errors, if there are any."""
        if self.errors:
            raise ApiError(400, 50035, "Invalid Form Body", self.errors)
