// `npm start`: install what is missing, build what is stale, run the server (role from ROLE, default all).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, ensureInstalled, ensureKafkaClient } from './ensure-install.mjs';
import { ROLE_NODE_FLAGS } from './role-node-flags.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
ensureInstalled();
// The embedded default (LOG_ADAPTER=memory) never loads node-rdkafka: it does not wait for its build.
if (process.env.LOG_ADAPTER === 'kafka') ensureKafkaClient();
ensureBuilt();
// The embedded archive (PGlite) keeps its database on disk here, so an archived match outlives a
// restart; the configuration's own default (in memory) is what tests and libraries get.
// node-rdkafka runs its blocking calls (consume, commit, a consumer's close) on libuv's pool, 4
// threads by default: a few closes waiting on a dead group coordinator filled it in the cluster
// tier and every later Kafka call queued behind them.
const env = { UV_THREADPOOL_SIZE: '16', ...process.env, ARCHIVE_DIR: process.env.ARCHIVE_DIR ?? path.join(root, '.data/archive') };
const child = spawn(process.execPath, [...ROLE_NODE_FLAGS, '--enable-source-maps', path.join(root, 'dist/src/main.js'), ...process.argv.slice(2)], { stdio: 'inherit', env });
// Ctrl-C reaches the whole process group; the server shuts down cleanly and this wrapper follows it.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 0)));
