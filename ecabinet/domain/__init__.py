"""Pure domain logic: no I/O, no asyncio, no ORM, no web or realtime imports."""
