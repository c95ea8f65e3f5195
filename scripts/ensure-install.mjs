// Installs dependencies when node_modules is absent or older than package-lock.json, and builds
// when dist/ is older than the sources. Idempotent; shared by `npm start`, `npm test` and CI.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

export function ensureInstalled() {
  const lock = path.join(root, 'package-lock.json');
  const stamp = path.join(root, 'node_modules/.emostream-lock-hash');
  const want = createHash('sha256').update(readFileSync(lock)).digest('hex');
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (have === want) return;
  console.log('[emostream] installing dependencies (npm ci)…');
  const env = { ...process.env };
  // node-gyp must not download Node headers (no internet here): use the ones beside this Node.
  const nodedir = path.resolve(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && existsSync(path.join(nodedir, 'include/node/node.h'))) env.npm_config_nodedir = nodedir;
  execFileSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env });
  writeFileSync(stamp, want);
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

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureInstalled();
  ensureBuilt();
}
