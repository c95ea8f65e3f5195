// The floor under bench:fanout's node figures: a bare `ws` server holding the same clients that,
// on POST /publish, frames the body once and writes those bytes to every socket, as the fan-out
// node's rooms do, without rooms, presence, the bus or Fastify. Its CPU per client per update is
// what the write loop and the kernel cost on this machine. GET /metrics gives the process
// figures under the names the bench reads from a role.
import http from 'node:http';
import { Sender, WebSocketServer } from 'ws';

const sockets = new Set();
const metrics = () => {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return [
    `process_cpu_user_seconds_total ${cpu.user / 1e6}`,
    `process_cpu_system_seconds_total ${cpu.system / 1e6}`,
    `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
    `process_resident_memory_bytes ${mem.rss}`,
    `nodejs_heap_size_used_bytes ${mem.heapUsed}`,
    `emostream_ws_connections ${sockets.size}`,
  ].join('\n');
};
const server = http.createServer((req, res) => {
  if (req.method === 'POST' && (req.url === '/publish' || req.url === '/publish?binary=1')) {
    // ?binary=1: the body is a compact update, framed as a binary message.
    const opcode = req.url.endsWith('binary=1') ? 2 : 1;
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const frame = Buffer.concat(Sender.frame(Buffer.concat(chunks), { fin: true, opcode, mask: false, readOnly: true, rsv1: false }));
      // The raw TCP socket under each ws (no compression is negotiated): one write of shared bytes.
      for (const ws of sockets) ws._socket.write(frame);
      res.writeHead(200).end(String(sockets.size));
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(metrics());
    return;
  }
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  sockets.add(ws);
  ws.on('close', () => sockets.delete(ws));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
process.on('SIGTERM', () => {
  for (const ws of sockets) ws.terminate();
  server.close(() => process.exit(0));
});
