"""A broadcast relay written the way websockets' docs show it: every message is
sent to every other client connected to the same URL path (the room).

Usage: python server.py PORT   (serves on 127.0.0.1 only)
"""

import asyncio
import sys

from websockets.asyncio.server import broadcast, serve

ROOMS: dict[str, set] = {}


async def relay(websocket):
    path = websocket.request.path
    room = ROOMS.setdefault(path, set())
    room.add(websocket)
    try:
        async for message in websocket:
            broadcast([peer for peer in room if peer is not websocket], message)
    finally:
        room.discard(websocket)
        if not room:
            ROOMS.pop(path, None)


async def main(port: int) -> None:
    async with serve(relay, "127.0.0.1", port, max_size=1 << 20) as server:
        print(f"python-websockets relay on ws://127.0.0.1:{port}/ROOM", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8080))
