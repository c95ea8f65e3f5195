// Installs dependencies when node_modules is absent or older than package-lock.json, and builds
// when dist/ is older than the sources. Idempotent; shared by `npm start`, `npm test` and CI.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * `npm ci` without install scripts: the only native build, node-rdkafka's librdkafka, is for the
 * Kafka adapter alone and takes minutes, so the embedded default never waits for it (see
 * ensureKafkaClient, which builds it when a Kafka role, a test tier or a bench needs it, after the
 * system libraries it links against).
 */
export function ensureInstalled() {
  const lock = path.join(root, 'package-lock.json');
  const stamp = path.join(root, 'node_modules/.emostream-lock-hash');
  const want = createHash('sha256').update(readFileSync(lock)).digest('hex');
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (have === want) return;
  console.log('[emostream] installing dependencies (npm ci)…');
  execFileSync(npm, ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: root, stdio: 'inherit' });
  writeFileSync(stamp, want);
}

/** What the project's Kafka use asks of librdkafka: TLS, and each compression KAFKA_COMPRESSION offers. */
const KAFKA_FEATURES = ['ssl', 'lz4', 'zstd'];

function kafkaFeatures() {
  const binding = path.join(root, 'node_modules/node-rdkafka/build/Release/node-librdkafka.node');
  if (!existsSync(binding)) return [];
  try {
    const out = execFileSync(process.execPath, ['-e', "process.stdout.write(require('node-rdkafka').features.join(','))"], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split(',');
  } catch {
    return [];
  }
}

/**
 * node-rdkafka built, with every feature the config offers. In one order: the system libraries
 * first (scripts/infra/apt-deps.sh: libzstd-dev and friends), then the build, because librdkafka
 * leaves out what it does not find at build time, for good: an `npm ci` run before the libraries
 * were installed gave a build without zstd, and `KAFKA_COMPRESSION=zstd` then died at the first
 * batch. A build that lacks a feature is thrown away and done again.
 */
export function ensureKafkaClient() {
  const missing = () => KAFKA_FEATURES.filter((f) => !kafkaFeatures().includes(f));
  if (missing().length === 0) return;
  console.log(`[emostream] building node-rdkafka (librdkafka${kafkaFeatures().length ? `, missing ${missing().join(', ')}` : ''}): system libraries first, then a build of a few minutes…`);
  if (process.platform === 'linux') execFileSync('bash', [path.join(root, 'scripts/infra/apt-deps.sh')], { cwd: root, stdio: 'inherit' });
  const pkg = path.join(root, 'node_modules/node-rdkafka');
  // librdkafka's configure runs only when its config.h is missing: remove it so the new build
  // sees the libraries installed since.
  rmSync(path.join(pkg, 'build'), { recursive: true, force: true });
  rmSync(path.join(pkg, 'deps/librdkafka/config.h'), { force: true });
  const env = { ...process.env };
  // node-gyp must not download Node headers (no internet here): use the ones beside this Node.
  const nodedir = path.resolve(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && existsSync(path.join(nodedir, 'include/node/node.h'))) env.npm_config_nodedir = nodedir;
  execFileSync(npm, ['rebuild', 'node-rdkafka', '--foreground-scripts'], { cwd: root, stdio: 'inherit', env });
  const still = missing();
  if (still.length > 0) throw new Error(`[emostream] node-rdkafka built without ${still.join(', ')}: install the system libraries (scripts/infra/apt-deps.sh) and run this again`);
}

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export function ensureBuilt() {
  const stamp = path.join(root, 'dist/.build-stamp');
  const srcTime = Math.max(newest(path.join(root, 'src')), newest(path.join(root, 'packages/sdk/src')), statSync(path.join(root, 'package-lock.json')).mtimeMs);
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= srcTime) return;
  console.log('[emostream] building…');
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
}

// `node scripts/ensure-install.mjs [--kafka]`: --kafka also builds the Kafka client (CI's install, the Kafka benches).
if (import.meta.url === `file://${process.argv[1]}`) {
  ensureInstalled();
  if (process.argv.includes('--kafka')) ensureKafkaClient();
  ensureBuilt();
}
