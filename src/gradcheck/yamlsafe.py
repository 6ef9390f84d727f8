"""Safe YAML reading that keeps line numbers.

Documents are composed into nodes with PyYAML's safe loader (nothing is
constructed from tags; libyaml's C parser where PyYAML has it, ten times faster,
after a scan of the event stream that refuses deep nesting before the C
composer, which recurses without a limit, could overflow the stack), then turned into plain dicts, lists and scalars by
`_Builder`, which allows only the standard scalar tags, refuses duplicate keys,
and bounds the size, nesting and alias expansion of a document so that a
hostile file cannot exhaust memory. The line of every key path is kept for
error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from gradcheck.errors import CatalogueError, Location
from gradcheck.options import Limits

MAX_NODES = 100_000  # nodes visited, counting every alias expansion
MAX_DEPTH = 50

Path = tuple[str | int, ...]

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass(frozen=True)
class Document:
    """A YAML document as plain data, with the line (1-based) of each key path."""

    data: Any
    lines: dict[Path, int]

    def line(self, path: Path) -> int | None:
        """The line of `path`, or of its closest ancestor that has one."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)


def read(text: str | bytes, file: str, max_bytes: int = Limits.max_file_bytes) -> Document:
    """Parse one YAML document from `text`; `file` names it in errors."""
    if len(text) > max_bytes:
        raise CatalogueError(f"file is {len(text):,} bytes, over the limit of {max_bytes:,}", Location(file))
    try:
        node = _compose(text, file)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise CatalogueError(f"malformed YAML ({exc.problem})", Location(file, line=line)) from None
    except yaml.YAMLError as exc:
        raise CatalogueError(f"malformed YAML ({exc})", Location(file)) from None
    except (RecursionError, MemoryError):
        raise CatalogueError("YAML is nested too deeply", Location(file)) from None
    if node is None:
        raise CatalogueError("file is empty", Location(file))
    builder = _Builder(file)
    return Document(builder.build(node, ()), builder.lines)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPENERS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSERS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_depth(text: str | bytes, file: str, loader: Any) -> None:
    """Refuse nesting beyond MAX_DEPTH from the parser's events, which come without recursion."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, _OPENERS):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else None
                raise CatalogueError(f"document is nested more than {MAX_DEPTH} levels deep",
                                     Location(file, line=line))
        elif isinstance(event, _CLOSERS):
            depth -= 1


def _compose(text: str | bytes, file: str) -> yaml.Node | None:
    try:
        _check_depth(text, file, _LOADER)
        return yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        if _LOADER is yaml.SafeLoader:
            raise
    # libyaml refused the document. Its messages are terser ("did not find expected
    # ','"), and newer releases refuse deep nesting in their own scanner, before any
    # event reaches the depth check above: ask the Python parser, whose events come
    # without recursion, for the depth and the error before its composer recurses.
    _check_depth(text, file, yaml.SafeLoader)
    yaml.compose(text, Loader=yaml.SafeLoader)
    raise AssertionError("libyaml refused a document PyYAML accepts")  # pragma: no cover


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path, int] = {}
        self.visited = 0
        self.scalars = SafeConstructor()

    def error(self, message: str, node: yaml.Node, path: Path) -> CatalogueError:
        key = ".".join(str(p) for p in path) or "top level"
        return CatalogueError(message, Location(self.file, key, node.start_mark.line + 1))

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise self.error(f"document has more than {MAX_NODES:,} nodes (alias expansion?)", node, path)
        if len(path) > MAX_DEPTH:
            raise self.error(f"document is nested more than {MAX_DEPTH} levels deep", node, path)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS:
            return self.scalars.construct_object(node)
        raise self.error(f"YAML tag '{node.tag}' is not allowed", node, path)

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                raise self.error("mapping keys must be plain names", key_node, path)
            key = self.scalars.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise self.error(f"duplicate key '{key}'", key_node, (*path, key))
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, (*path, key))
        return out
