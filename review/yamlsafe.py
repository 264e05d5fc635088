"""The one YAML reader for every file the product reads: template front matter, brand.yaml, rule
files, claims.yaml.

Plain `yaml.safe_load` executes nothing, but it still lets a ten-line file hurt the server: an
alias bomb (`&a [*b, *b, ...]`, "billion laughs") expands to gigabytes, deep nesting recurses,
a huge file is read whole. Here those fail fast, before anything is built:

- anchors (`&name`) and aliases (`*name`) are refused: our files never need them, and with none
  a document is exactly as big as its text;
- the text is capped in size (checked before reading a file), the tree in depth and node count;
- a key given twice is refused (YAML would silently keep the last one);
- every refusal names its 1-based line.

`YamlDoc.line(*path)` (`line_of`) is the one "which line is this key on" helper every caller uses;
`node_at` finds a value's node (claims.py edits a value in place by its position).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

MAX_BYTES = 256 * 1024  # the largest real file (a claims library) is a few kilobytes
MAX_DEPTH = 24
MAX_NODES = 20_000


class YamlRefused(ConfigError):
    """A YAML text is invalid or unsafe. `line` is 1-based within the text when known."""

    def __init__(self, reason: str, line: int | None = None):
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line else reason)


class _Stop(yaml.YAMLError):
    def __init__(self, reason: str, mark: Any):
        self.reason = reason
        self.mark = mark
        super().__init__(reason)


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts and refuses while composing, before any value is constructed."""

    def __init__(self, stream: str, max_depth: int, max_nodes: int):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._max_depth = max_depth
        self._max_nodes = max_nodes

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Stop(f"aliases ('*{event.anchor}') are not allowed: write the value out", event.start_mark)
        if getattr(event, "anchor", None) is not None:
            raise _Stop(f"anchors ('&{event.anchor}') are not allowed: write the value out", event.start_mark)
        self._nodes += 1
        if self._nodes > self._max_nodes:
            raise _Stop(f"more than {self._max_nodes} values: this is not a file we write", event.start_mark)
        self._depth += 1
        if self._depth > self._max_depth:
            raise _Stop(f"nested deeper than {self._max_depth} levels", event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass(frozen=True)
class YamlDoc:
    """A parsed document: its value and its node tree (for lines)."""

    value: Any
    node: yaml.Node | None

    def line(self, *path: str | int) -> int:
        """1-based line of the deepest node found along `path` (mapping keys, list indexes, or an
        int index into a mapping's entries); the document's first line when nothing matches."""
        return line_of(self.node, *path)


def line_of(node: yaml.Node | None, *path: str | int) -> int:
    """1-based line of the deepest node found along `path` (a mapping key's line for a key)."""
    return _walk(node, path)[0]


def node_at(node: yaml.Node | None, *path: str | int) -> yaml.Node | None:
    """The value node at exactly `path`, or None when the path does not lead anywhere."""
    line, found, complete = _walk(node, path)
    return found if complete else None


def _walk(node: yaml.Node | None, path: tuple[str | int, ...]) -> tuple[int, yaml.Node | None, bool]:
    """(line, node, whether every step was found) for the deepest node along `path`: the one
    "which line is this key on" helper."""
    if node is None:
        return 1, None, not path
    line = node.start_mark.line + 1
    for step in path:
        if isinstance(node, yaml.MappingNode):
            if isinstance(step, int):
                if not 0 <= step < len(node.value):
                    return line, node, False
                key, node = node.value[step]
                line = key.start_mark.line + 1
                continue
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line, node, False
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            return line, node, False
    return line, node, True


def describe_value(value: Any) -> str:
    """What kind of YAML value this is, in a reviewer's words ("a number", "a list")."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def did_you_mean(word: str, known: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest known key, or ''."""
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _duplicates(root: yaml.Node) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in seen:
                        raise _Stop(f"duplicate key '{k.value}'", k.start_mark)
                    seen.add(k.value)
                stack.append(v)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def loads(text: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> YamlDoc:
    """Parse one YAML document safely. Raises YamlRefused naming the line."""
    if not isinstance(text, str):
        raise YamlRefused("not text")
    if len(text) > max_bytes:  # characters: a cheap bound checked before any parsing
        raise YamlRefused(f"larger than {max_bytes // 1024} KB")
    loader = _Loader(text, max_depth, max_nodes)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDoc(None, None)
        _duplicates(node)
        return YamlDoc(loader.construct_document(node), node)
    except _Stop as e:
        raise YamlRefused(e.reason, e.mark.line + 1 if e.mark is not None else None) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        raise YamlRefused(f"not valid YAML: {problem}", mark.line + 1 if mark is not None else None) from None
    except (ValueError, OverflowError, RecursionError, MemoryError) as e:  # e.g. a 5,000-digit integer
        raise YamlRefused(f"not valid YAML: {type(e).__name__}: {str(e)[:120]}") from None
    finally:
        loader.dispose()


def read_text(path: Path, *, max_bytes: int = MAX_BYTES) -> str:
    """A file's UTF-8 text, refusing a file too big to be ours before reading it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise YamlRefused(f"larger than {max_bytes // 1024} KB")
        with path.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise YamlRefused(f"cannot read file: {e.strerror or e}") from None
    if len(raw) > max_bytes:  # grew while we looked, or not a regular file
        raise YamlRefused(f"larger than {max_bytes // 1024} KB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise YamlRefused("not UTF-8 text", raw[: e.start].count(b"\n") + 1) from None


def load_file(path: Path, **limits: int) -> YamlDoc:
    """`loads(read_text(path))`: raises YamlRefused naming the line."""
    return loads(read_text(path, max_bytes=limits.get("max_bytes", MAX_BYTES)), **limits)
