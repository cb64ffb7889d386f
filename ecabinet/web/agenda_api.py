"""Editing the agenda over HTTP: items (insert, change, move, remove) and their documents."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ecabinet.protocol import endpoint
from ecabinet.protocol.roles import EDITORS, MEETING_READERS
from ecabinet.services.meetings import agenda as agenda_edit
from ecabinet.services.meetings import reads
from ecabinet.web.actions import meeting_action
from ecabinet.web.common import json_body
from ecabinet.web.prep_common import meeting_read

A = "/api/meetings/{meeting_id:int}/agenda"
ITEM = A + "/{item_id:int}"
D = ITEM + "/documents"
EDIT_ERRORS = ("forbidden_role", "meeting_archived", "invalid_payload", "json_required")


def _mid(request: Request) -> int:
    value: int = request.path_params["meeting_id"]
    return value


def _iid(request: Request) -> int:
    value: int = request.path_params["item_id"]
    return value


@endpoint(
    "GET",
    A,
    roles=MEETING_READERS,
    summary="The agenda in reading order with numbers and documents in order "
    "(observers: confidential items redacted).",
)
async def read_agenda(request: Request) -> Response:
    answer = await meeting_read(
        request, _mid(request), MEETING_READERS, "agenda.read", reads.agenda
    )
    return JSONResponse(answer)


@endpoint(
    "POST",
    A,
    roles=EDITORS,
    body=agenda_edit.ItemIn,
    status=201,
    summary="Insert an item under `parent_id` (null: top level) at `position` (0-based; "
    "default last); later items move down. Emits `agenda.changed`.",
    errors=(*EDIT_ERRORS, "invalid_agenda_position"),
)
async def add_item(request: Request) -> Response:
    data = await json_body(request, agenda_edit.ItemIn)
    answer = await meeting_action(
        request, _mid(request), EDITORS, "agenda.add", agenda_edit.add_item, data
    )
    return JSONResponse(answer, status_code=201)


@endpoint(
    "PATCH",
    ITEM,
    roles=EDITORS,
    body=agenda_edit.ItemPatch,
    summary="Change an item's title, presenter, description, planned minutes, confidential "
    "flag or planned vote (only the fields given).",
    errors=(*EDIT_ERRORS, "agenda_item_not_found"),
)
async def update_item(request: Request) -> Response:
    data = await json_body(request, agenda_edit.ItemPatch)
    answer = await meeting_action(
        request, _mid(request), EDITORS, "agenda.update", agenda_edit.update_item, _iid(request),
        data,
    )
    return JSONResponse(answer)


@endpoint(
    "POST",
    ITEM + "/move",
    roles=EDITORS,
    body=agenda_edit.ItemMove,
    summary="Move an item with its sub-items: to `position` under `parent_id` (null: top "
    "level). At most two levels; numbering is kept consistent.",
    errors=(*EDIT_ERRORS, "agenda_item_not_found", "invalid_agenda_position"),
)
async def move_item(request: Request) -> Response:
    data = await json_body(request, agenda_edit.ItemMove)
    answer = await meeting_action(
        request, _mid(request), EDITORS, "agenda.move", agenda_edit.move_item, _iid(request), data
    )
    return JSONResponse(answer)


@endpoint(
    "DELETE",
    ITEM,
    roles=EDITORS,
    summary="Remove an item and its sub-items (documents stay in the meeting); the items "
    "after it move up.",
    errors=(
        "forbidden_role",
        "meeting_archived",
        "agenda_item_not_found",
        "agenda_item_current",
        "agenda_item_in_use",
    ),
)
async def remove_item(request: Request) -> Response:
    answer = await meeting_action(
        request, _mid(request), EDITORS, "agenda.remove", agenda_edit.remove_item, _iid(request)
    )
    return JSONResponse(answer)


@endpoint(
    "POST",
    D,
    roles=EDITORS,
    body=agenda_edit.DocumentLink,
    status=201,
    summary="Attach a document of the meeting to the item at `position` (default last).",
    errors=(
        *EDIT_ERRORS,
        "agenda_item_not_found",
        "document_not_found",
        "document_already_attached",
        "document_replaced",
    ),
)
async def attach_document(request: Request) -> Response:
    data = await json_body(request, agenda_edit.DocumentLink)
    answer = await meeting_action(
        request,
        _mid(request),
        EDITORS,
        "agenda.attach",
        agenda_edit.attach_document,
        _iid(request),
        data,
    )
    return JSONResponse(answer, status_code=201)


@endpoint(
    "PUT",
    D,
    roles=EDITORS,
    body=agenda_edit.DocumentOrder,
    summary="Reorder the item's documents: `document_ids` lists each of them once.",
    errors=(*EDIT_ERRORS, "agenda_item_not_found", "invalid_document_order"),
)
async def reorder_documents(request: Request) -> Response:
    data = await json_body(request, agenda_edit.DocumentOrder)
    answer = await meeting_action(
        request,
        _mid(request),
        EDITORS,
        "agenda.reorder_documents",
        agenda_edit.reorder_documents,
        _iid(request),
        data,
    )
    return JSONResponse(answer)


@endpoint(
    "DELETE",
    D + "/{document_id:int}",
    roles=EDITORS,
    summary="Take a document off the item (it stays in the meeting).",
    errors=(
        "forbidden_role",
        "meeting_archived",
        "agenda_item_not_found",
        "document_not_attached",
        "document_not_found",
    ),
)
async def detach_document(request: Request) -> Response:
    answer = await meeting_action(
        request,
        _mid(request),
        EDITORS,
        "agenda.detach",
        agenda_edit.detach_document,
        _iid(request),
        request.path_params["document_id"],
    )
    return JSONResponse(answer)

