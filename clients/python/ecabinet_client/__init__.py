"""Python client for ecabinet: asyncio API, command line and tablet load generator.

The payload schemas are the server's own, generated into ``protocol.json`` by the server's
``ecabinet protocol write``; see ``ecabinet_client.schema``.
"""

from ecabinet_client.client import Client, CommandGroup, EventStream, Room, new_client_id
from ecabinet_client.errors import (
    AckLost,
    ClientError,
    Conflict,
    ConnectionLost,
    EcabinetError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    ServerError,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnknownCommand,
)
from ecabinet_client.events import CONNECTION, PRIVATE, SNAPSHOT, Event
from ecabinet_client.schema import Protocol

__version__ = "0.1.0"
__all__ = [
    "CONNECTION",
    "PRIVATE",
    "SNAPSHOT",
    "AckLost",
    "Client",
    "ClientError",
    "CommandGroup",
    "Conflict",
    "ConnectionLost",
    "EcabinetError",
    "Event",
    "EventStream",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "Protocol",
    "RateLimited",
    "Room",
    "ServerError",
    "TooLarge",
    "Unauthenticated",
    "Unavailable",
    "UnknownCommand",
    "new_client_id",
]
