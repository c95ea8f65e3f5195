// Load for the profiling scripts: autocannon (the project's devDependency) on the ingest API.
// Usage: node scripts/profile/load.mjs PORT   (env: PROFILE_SECONDS=20, PROFILE_CONNECTIONS=50,
// PROFILE_PATH=batch|single). Prints a one-line summary; exits when the load is done, which is
// what tells `clinic --on-port` to stop the server and write its profile.
import autocannon from 'autocannon';

const port = Number(process.argv[2] ?? process.env.PORT);
if (!port) {
  console.error('usage: node scripts/profile/load.mjs PORT');
  process.exit(2);
}
const seconds = Number(process.env.PROFILE_SECONDS ?? 20);
const single = process.env.PROFILE_PATH === 'single';
const emojis = ['🔥', '😂', '👏', '😡'];
const bodies = single
  ? Array.from({ length: 50 }, (_, m) => JSON.stringify({ matchId: `match-${m}`, userId: `u${m}`, emoji: emojis[m % 4] }))
  : Array.from({ length: 10 }, (_, b) => JSON.stringify({ reactions: Array.from({ length: 100 }, (_, i) => ({ matchId: `match-${(b * 100 + i) % 50}`, userId: `u${b * 100 + i}`, emoji: emojis[i % 4] })) }));
let k = 0;
const r = await autocannon({
  url: `http://127.0.0.1:${port}/v1/reactions${single ? '' : '/batch'}`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  connections: Number(process.env.PROFILE_CONNECTIONS ?? 50),
  duration: seconds,
  requests: [{ setupRequest: (req) => ({ ...req, body: bodies[k++ % bodies.length] }) }],
});
const perRequest = single ? 1 : 100;
console.error(
  `[profile] ${seconds}s on ${single ? 'POST /v1/reactions' : 'POST /v1/reactions/batch (100/req)'}: ${Math.round(r.requests.average)} req/s, ` +
    `${Math.round(((r.requests.total - r.non2xx) * perRequest) / seconds)} reactions/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`,
);
