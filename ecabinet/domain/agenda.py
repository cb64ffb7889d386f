"""The agenda tree: depth-first order and the numbering people read ("2", "2.1")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class ItemLike(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def parent_id(self) -> int | None: ...
    @property
    def position(self) -> int: ...


@dataclass(frozen=True)
class Numbered:
    id: int
    number: str
    depth: int


MAX_DEPTH = 2


def ordered(items: Sequence[ItemLike]) -> list[Numbered]:
    """Items in reading order with their numbers; children follow their parent."""
    children: dict[int | None, list[ItemLike]] = {}
    for item in items:
        children.setdefault(item.parent_id, []).append(item)
    for siblings in children.values():
        siblings.sort(key=lambda i: (i.position, i.id or 0))
    out: list[Numbered] = []

    def walk(parent: int | None, prefix: str, depth: int) -> None:
        for index, item in enumerate(children.get(parent, []), start=1):
            assert item.id is not None
            number = f"{prefix}{index}"
            out.append(Numbered(item.id, number, depth))
            walk(item.id, f"{number}.", depth + 1)

    walk(None, "", 1)
    return out


def neighbour(order: Sequence[Numbered], current: int | None, step: int) -> int | None:
    """The item ``step`` places from ``current`` in reading order (None past either end)."""
    ids = [n.id for n in order]
    if not ids:
        return None
    if current not in ids:
        return ids[0] if step > 0 else None
    index = ids.index(current) + step
    return ids[index] if 0 <= index < len(ids) else None
