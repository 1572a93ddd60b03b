"""Reading the YAML files teachers write (config and lessons), safely and with line numbers.

One way to read them: :func:`read_text` refuses a file too large or not UTF-8 with a
sentence, :func:`load_yaml` parses like ``yaml.safe_load`` but refuses aliases that expand
beyond :data:`bot.core.limits.MAX_YAML_NODES` (an "alias bomb" of nine levels of nine aliases
would otherwise take minutes and gigabytes), and :func:`locate` gives a problem's line and
field name, counting list entries from 1, for both kinds of file alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.core import limits


class FileProblem(Exception):
    """A file cannot be read; the message is a sentence naming the file and what to do."""


class SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that leaves an impossible date such as 2021-13-45 as text.

    PyYAML raises a bare ``ValueError`` for those; kept as text, the field's validation
    reports it with the file, the field and the line like any other bad value.
    """


def _timestamp_or_text(loader: SafeLoader, node: yaml.ScalarNode) -> object:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


SafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


class NestedTooDeeply(yaml.YAMLError):
    """YAML nested deeper than the parser's recursion allows (unclosed brackets, say)."""

    problem = "it is nested too deeply: look for brackets that are never closed"


class TooManyNodes(yaml.YAMLError):
    """Aliases (``*name``) that expand into more values than any real file holds."""

    problem = (f"its aliases (*name) expand to more than {limits.MAX_YAML_NODES:,} values: "
               "write the values out, or use fewer aliases")


class RecursiveAlias(yaml.YAMLError):
    """An alias inside the very value it names."""

    problem = "an alias (*name) is used inside the value it names: remove it"


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes ``root`` stands for once every alias is expanded (memoised, no recursion)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                children += [k, v]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if children_done:
            open_nodes.discard(key)
            total = 1 + sum(sizes[id(child)] for child in children)
            if total > limits.MAX_YAML_NODES:
                raise TooManyNodes()
            sizes[key] = total
            continue
        if key in open_nodes:
            raise RecursiveAlias()
        open_nodes.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                raise RecursiveAlias()
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _compose(text: str) -> yaml.Node | None:
    loader = SafeLoader(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    if root is not None:
        _expanded_size(root)
    return root


def load_yaml(text: str) -> Any:
    """Parse YAML like ``yaml.safe_load``, keeping impossible dates as text.

    Raises a ``yaml.YAMLError`` for text that is not YAML, nested too deeply, or whose
    aliases expand beyond :data:`bot.core.limits.MAX_YAML_NODES` nodes.
    """
    try:
        root = _compose(text)
        if root is None:
            return None
        loader = SafeLoader("")
        try:
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except RecursionError:
        # PyYAML composes nodes recursively: thousands of '[' exhaust Python's stack.
        raise NestedTooDeeply() from None


def yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[int | None, str]:
    """The line (1-based, when known) and a short description of why ``text`` is not YAML."""
    if isinstance(exc, yaml.reader.ReaderError):
        # Raised for control characters and the like: an offset, not a line mark.
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        return line, (f"it contains the character U+{exc.character:04X}, which YAML "
                      "does not allow: delete it")
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot be read"
    return (mark.line + 1 if mark is not None else None), str(problem)


def not_utf8_sentence(path: Path | str, exc: UnicodeDecodeError) -> str:
    """A problem sentence for a file that is not UTF-8 text, naming the line of the bad byte."""
    line = bytes(exc.object[:exc.start]).count(b"\n") + 1
    byte = exc.object[exc.start]
    return (f"{path}: cannot read the file: line {line} is not UTF-8 text (byte 0x{byte:02x}); "
            "save the file as UTF-8")


def read_text(path: Path, what: str = "file") -> str:
    """A teacher's text file (UTF-8, a byte-order mark allowed); :class:`FileProblem` if not."""
    try:
        size = path.stat().st_size
        if size > limits.MAX_FILE_BYTES:
            raise FileProblem(
                f"{path}: the {what} is {size / 2**20:.1f} MiB; Seminar reads files of at most "
                f"{limits.MAX_FILE_BYTES // 2**20} MiB: is it the right file?")
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem(not_utf8_sentence(path, exc)) from None
    except IsADirectoryError:
        raise FileProblem(f"{path}: is a folder, not a {what}") from None
    except OSError as exc:
        raise FileProblem(f"{path}: cannot read the file ({exc.strerror or exc})") from None


class Positions:
    """Line numbers (1-based) of a document's values, by field path; empty if unparsable."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str | int, ...], int] = {}
        try:
            root = _compose(text)
        except (yaml.YAMLError, RecursionError):  # no line numbers then, still every problem
            return
        if root is not None:
            self._walk(root)

    def _walk(self, root: yaml.Node) -> None:
        seen: set[int] = set()  # an alias's node is walked once, where it is first used
        stack: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(root, ())]
        while stack:
            node, path = stack.pop()
            self.lines.setdefault(path, node.start_mark.line + 1)
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode):
                        # A mapping value's line is its key's (the value may start lower).
                        self.lines[(*path, key.value)] = key.start_mark.line + 1
                        stack.append((value, (*path, key.value)))
            elif isinstance(node, yaml.SequenceNode):
                for index, item in enumerate(node.value):
                    stack.append((item, (*path, index)))

    def line_of(self, loc: Iterable[str | int]) -> int | None:
        """The line of the value at ``loc``, or of the nearest enclosing value that has one."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def visible(value: str) -> str:
    """A validator: text a teacher wrote must show something (not only spaces or controls)."""
    if not any(ch.isprintable() and not ch.isspace() for ch in value):
        raise ValueError("has no visible text (only spaces or control characters): write some")
    return value


def field_name(loc: Sequence[str | int]) -> str:
    """A field path as a teacher reads it: ``questions[1]``, ``courses.x.calendar.entries[2]``.

    List positions count from 1, as a teacher counts entries.
    """
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part + 1}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(top level)"
