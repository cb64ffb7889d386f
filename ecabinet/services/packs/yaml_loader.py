"""Reading ``meeting.yaml`` without letting it cost more than its size.

Three limits, each reported as one problem with a stable code and, where there is one, a line:

- ``pack_yaml_too_large``: more than ``MAX_YAML_BYTES``, refused before a byte is parsed (a real
  pack of 200 participants and 100 agenda items is some 30 KB);
- ``pack_yaml_aliases``: any anchor (``&a``) or alias (``*a``), refused as the parser meets it.
  An alias makes one node appear many times over: 600 bytes of aliases unfold into 10**5
  agenda items, each validated and checked, which took 13 s. A pack has no use for them;
- ``pack_yaml_too_deep``: nesting deeper than ``MAX_YAML_DEPTH``, refused while the tree is
  composed (PyYAML composes recursively, so 5,000 brackets ended in a ``RecursionError``).

A value the YAML constructors cannot build (an integer of 5,000 digits, the 13th month) is a
problem at its line too (``pack_yaml_value``) rather than an error of the server.

PyYAML's ``SafeLoader`` has no switch for any of these; the subclass below adds them where the
composer and the constructor already pass, so the rest of YAML is parsed by PyYAML as before.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent

from ecabinet.core.errors import InvalidInput

MAX_YAML_BYTES = 1024 * 1024
# The format nests nine levels at most (the root, agenda, an item, its items, an item, its items,
# an item, its documents, a document); the limit leaves room for the agenda rule to name a pack
# one level too deep, and stays far from Python's recursion limit.
MAX_YAML_DEPTH = 32


class _Refused(yaml.MarkedYAMLError):
    def __init__(self, code: str, message: str, mark: Any) -> None:
        super().__init__(problem=message, problem_mark=mark)
        self.code = code


class PackLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses anchors and aliases and limits the nesting depth."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent) or (
            isinstance(event, ScalarEvent | CollectionStartEvent) and event.anchor is not None
        ):
            name = event.anchor
            raise _Refused(
                "pack_yaml_aliases",
                f"không dùng neo hay bí danh YAML (&{name}, *{name}); hãy viết đầy đủ từng "
                "mục (YAML anchors and aliases are not accepted)",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(
                    "pack_yaml_too_deep",
                    f"lồng nhau quá {MAX_YAML_DEPTH} cấp (nested too deeply)",
                    event.start_mark,
                )
            node: yaml.Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except ValueError as exc:
            raise _Refused(
                "pack_yaml_value",
                f"giá trị không đọc được: {exc} (unreadable value)",
                node.start_mark,
            ) from None


def _refusal(source: str, code: str, message: str, line: int | None) -> InvalidInput:
    return InvalidInput(
        f"{source}: {message}",
        code="invalid_pack",
        details=[{"file": source, "line": line, "field": "", "code": code, "message": message}],
    )


def too_large(source: str, size: int) -> InvalidInput:
    """The refusal for a ``meeting.yaml`` of ``size`` bytes, over the limit."""
    limit = MAX_YAML_BYTES // 1024
    message = f"tệp lớn hơn {limit} KiB ({size} byte), quá giới hạn (too large)"
    return _refusal(source, "pack_yaml_too_large", message, None)


def load_yaml(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """The YAML tree of ``text`` (which knows every value's line) and the data built from it.

    ``InvalidInput`` (``invalid_pack``) with one problem when the text is too large, uses
    anchors or aliases, nests too deep, holds a value that cannot be built, or is not YAML.
    """
    size = len(text.encode("utf-8"))
    if size > MAX_YAML_BYTES:
        raise too_large(source, size)
    loader = PackLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        mark = exc.problem_mark
        raise _refusal(
            source, exc.code, str(exc.problem), mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        code = "pack_yaml_value" if isinstance(exc, ConstructorError) else "pack_yaml_syntax"
        raise InvalidInput(
            f"{source}: YAML không hợp lệ (malformed YAML)",
            code="invalid_pack",
            details=[
                {
                    "file": source,
                    "line": mark.line + 1 if mark is not None else None,
                    "code": code,
                    "message": str(exc).splitlines()[0],
                }
            ],
        ) from None
    finally:
        loader.dispose()
    return node, data
