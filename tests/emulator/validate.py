"""Discord's limits on what a bot sends, checked the way the API checks them.

A request over a limit is answered with 400 "Invalid Form Body" (code 50035), so a test sees
the same failure the real API would give instead of a silently accepted message.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ApiError, FormErrors

COMPONENTS_V2_FLAG = 1 << 15
_NAME = re.compile(r"^[-_'\w]{1,32}$")


def _too_long(errors: FormErrors, path: str, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _embed_size(embed: dict[str, Any]) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    for item in embed.get("fields") or []:
        size += len(item.get("name") or "") + len(item.get("value") or "")
    return size


def check_embeds(errors: FormErrors, embeds: Any, prefix: str = "") -> None:
    """Check embeds against Discord's per-field and per-message limits."""
    if not isinstance(embeds, list):
        return
    if len(embeds) > 10:
        errors.add(f"{prefix}embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        path = f"{prefix}embeds.{i}"
        _too_long(errors, f"{path}.title", embed.get("title"), 256)
        _too_long(errors, f"{path}.description", embed.get("description"), 4096)
        _too_long(errors, f"{path}.footer.text", (embed.get("footer") or {}).get("text"), 2048)
        _too_long(errors, f"{path}.author.name", (embed.get("author") or {}).get("name"), 256)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.add(f"{path}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, item in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = item.get(key)
                if not value:
                    errors.add(f"{path}.fields.{j}.{key}", "BASE_TYPE_REQUIRED",
                               "This field is required")
                _too_long(errors, f"{path}.fields.{j}.{key}", value, limit)
        total += _embed_size(embed)
    if total > 6000:
        errors.add(f"{prefix}embeds", "MAX_EMBED_SIZE_EXCEEDED",
                   "Embed size exceeds maximum size of 6000")


def _check_button(errors: FormErrors, path: str, button: dict[str, Any]) -> None:
    _too_long(errors, f"{path}.label", button.get("label"), 80)
    if button.get("style") == 5:
        if not button.get("url"):
            errors.add(f"{path}.url", "BASE_TYPE_REQUIRED", "This field is required")
        if button.get("custom_id"):
            errors.add(f"{path}.custom_id", "COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                       "A link button cannot have a custom_id")
    elif button.get("style") != 6 and not button.get("custom_id"):
        errors.add(f"{path}.custom_id", "BASE_TYPE_REQUIRED", "This field is required")


def check_components(errors: FormErrors, components: Any, flags: int, prefix: str = "") -> None:
    """Check action rows, buttons and custom ids against Discord's limits."""
    if not isinstance(components, list):
        return
    custom_ids: set[str] = set()

    def visit(component: dict[str, Any], path: str) -> None:
        custom_id = component.get("custom_id")
        if custom_id is not None:
            _too_long(errors, f"{path}.custom_id", custom_id, 100)
            if custom_id in custom_ids:
                errors.add(f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED",
                           "Component custom id cannot be duplicated")
            custom_ids.add(custom_id)
        if component.get("type") == 2:
            _check_button(errors, path, component)
        for key in ("components",):
            for k, child in enumerate(component.get(key) or []):
                visit(child, f"{path}.{key}.{k}")
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, dict):
                visit(child, f"{path}.{key}")

    if not flags & COMPONENTS_V2_FLAG:
        if len(components) > 5:
            errors.add(f"{prefix}components", "BASE_TYPE_MAX_LENGTH",
                       "Must be 5 or fewer in length.")
        for i, row in enumerate(components):
            if row.get("type") != 1:
                errors.add(f"{prefix}components.{i}.type", "UNION_TYPE_CHOICES",
                           "Top-level components must be action rows")
            children = row.get("components") or []
            buttons = [c for c in children if c.get("type") == 2]
            if len(children) > 5 or (len(children) > 1 and len(buttons) != len(children)):
                errors.add(f"{prefix}components.{i}.components", "BASE_TYPE_MAX_LENGTH",
                           "An action row holds up to 5 buttons or a single select menu")
    for i, component in enumerate(components):
        visit(component, f"{prefix}components.{i}")


def check_message(body: dict[str, Any], *, has_files: bool, prefix: str = "",
                  require_content: bool = True) -> None:
    """Raise ApiError if a message body breaks Discord's limits or is empty."""
    errors = FormErrors()
    _too_long(errors, f"{prefix}content", body.get("content"), 2000)
    check_embeds(errors, body.get("embeds"), prefix)
    check_components(errors, body.get("components"), int(body.get("flags") or 0), prefix)
    errors.raise_if_any()
    if require_content and not (
        body.get("content") or body.get("embeds") or body.get("components") or has_files
        or body.get("sticker_ids") or body.get("poll")
    ):
        raise ApiError(400, 50006, "Cannot send an empty message")


def check_thread_name(name: Any, path: str = "name") -> None:
    """Raise ApiError unless a thread name is 1 to 100 characters."""
    errors = FormErrors()
    if not isinstance(name, str) or not name:
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
    else:
        _too_long(errors, path, name, 100)
    errors.raise_if_any()


def _check_command_options(errors: FormErrors, options: list[dict[str, Any]], path: str) -> None:
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    names: set[str] = set()
    for i, option in enumerate(options):
        opath = f"{path}.{i}"
        name = option.get("name", "")
        if not _NAME.match(name) or name != name.lower():
            errors.add(f"{opath}.name", "APPLICATION_COMMAND_INVALID_NAME",
                       "Command name is invalid")
        if name in names:
            errors.add(f"{opath}.name", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                       "Option names must be unique")
        names.add(name)
        description = option.get("description", "")
        if not 1 <= len(description) <= 100:
            errors.add(f"{opath}.description", "BASE_TYPE_BAD_LENGTH",
                       "Must be between 1 and 100 in length.")
        choices = option.get("choices") or []
        if len(choices) > 25:
            errors.add(f"{opath}.choices", "BASE_TYPE_MAX_LENGTH",
                       "Must be 25 or fewer in length.")
        if option.get("type") in (1, 2):
            _check_command_options(errors, option.get("options") or [], f"{opath}.options")
            continue
        if option.get("required"):
            if seen_optional:
                errors.add(f"{opath}.required", "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                           "Required options must be placed before non-required options")
        else:
            seen_optional = True


def check_commands(commands: Any) -> None:
    """Raise ApiError if a bulk command overwrite breaks Discord's rules."""
    if not isinstance(commands, list):
        raise ApiError(400, 50035, "Invalid Form Body",
                       {"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "Only lists"}]})
    errors = FormErrors()
    seen: set[tuple[int, str]] = set()
    slash = 0
    for i, command in enumerate(commands):
        kind = int(command.get("type", 1))
        name = command.get("name", "")
        key = (kind, name)
        if key in seen:
            errors.add(f"{i}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME",
                       f"Application command names must be unique: {name}")
        seen.add(key)
        if kind == 1:
            slash += 1
            if not _NAME.match(name) or name != name.lower():
                errors.add(f"{i}.name", "APPLICATION_COMMAND_INVALID_NAME",
                           "Command name is invalid")
            if not 1 <= len(command.get("description", "")) <= 100:
                errors.add(f"{i}.description", "BASE_TYPE_BAD_LENGTH",
                           "Must be between 1 and 100 in length.")
            _check_command_options(errors, command.get("options") or [], f"{i}.options")
        elif not 1 <= len(name) <= 32:
            errors.add(f"{i}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    if slash > 100:
        errors.add("_root", "APPLICATION_COMMANDS_TOO_MANY", "Maximum of 100 commands")
    errors.raise_if_any()


def check_choices(choices: Any) -> None:
    """Raise ApiError if autocomplete choices break Discord's limits."""
    errors = FormErrors()
    if not isinstance(choices, list):
        errors.add("data.choices", "BASE_TYPE_REQUIRED", "This field is required")
        errors.raise_if_any()
        return
    if len(choices) > 25:
        errors.add("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for i, choice in enumerate(choices):
        name = choice.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors.add(f"data.choices.{i}.name", "BASE_TYPE_BAD_LENGTH",
                       "Must be between 1 and 100 in length.")
        value = choice.get("value")
        if isinstance(value, str) and len(value) > 100:
            errors.add(f"data.choices.{i}.value", "BASE_TYPE_MAX_LENGTH",
                       "Must be 100 or fewer in length.")
    errors.raise_if_any()
