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


def placement_problem(
    items: Sequence[ItemLike], item_id: int | None, parent_id: int | None
) -> str | None:
    """Why ``item_id`` (None: a new item) cannot sit under ``parent_id``, or None when it can.

    The tree is at most two levels deep: a parent must be a top-level item, and an item that has
    sub-items cannot itself become a sub-item. An item cannot be placed under itself.
    """
    if parent_id is None:
        return None
    by_id = {i.id: i for i in items}
    parent = by_id.get(parent_id)
    if parent is None:
        return f"Không có mục cha #{parent_id} (unknown parent item)."
    if parent_id == item_id:
        return "Không thể đặt một mục vào chính nó (an item cannot be its own parent)."
    if parent.parent_id is not None:
        return (
            f"Chương trình chỉ lồng tối đa {MAX_DEPTH} cấp "
            f"(the agenda is at most {MAX_DEPTH} levels deep)."
        )
    if item_id is not None and any(i.parent_id == item_id for i in items):
        return (
            "Mục có mục con không thể trở thành mục con "
            "(an item with sub-items cannot become a sub-item)."
        )
    return None


def insert_positions(sibling_ids: Sequence[int], new_id: int, position: int | None) -> list[int]:
    """Sibling order after inserting ``new_id`` at ``position`` (None or past the end: last)."""
    order = [i for i in sibling_ids if i != new_id]
    at = len(order) if position is None else max(0, min(position, len(order)))
    order.insert(at, new_id)
    return order


def subtree(items: Sequence[ItemLike], item_id: int) -> list[int]:
    """``item_id`` and every item below it."""
    out = [item_id]
    for item in items:
        if item.parent_id == item_id and item.id is not None:
            out.extend(subtree(items, item.id))
    return out
