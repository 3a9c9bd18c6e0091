// A broadcast relay written the way ws's README shows it: every binary message is
// sent to every other client connected to the same URL path (the room).
// Usage: node server.js PORT   (serves on 127.0.0.1 only)
'use strict';
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] || 8080);
const rooms = new Map(); // path -> Set of clients
const wss = new WebSocketServer({ host: '127.0.0.1', port });

wss.on('connection', (ws, req) => {
  const path = req.url;
  if (!rooms.has(path)) rooms.set(path, new Set());
  const room = rooms.get(path);
  room.add(ws);
  ws.on('message', (data, isBinary) => {
    for (const client of room) {
      if (client !== ws && client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    }
  });
  ws.on('close', () => {
    room.delete(ws);
    if (room.size === 0) rooms.delete(path);
  });
  ws.on('error', () => {});
});

wss.on('listening', () => console.log(`node-ws relay on ws://127.0.0.1:${port}/ROOM`));
