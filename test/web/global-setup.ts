// Browser tier global setup: the pages load the SDK bundle from dist/web; build it when it is missing
// or older than the SDK sources (and src/wire, which it is built with).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/domain/schemas-dir.js';

export default function setup(): void {
  const root = repoRoot();
  const bundle = path.join(root, 'dist/web/emostream-sdk.js');
  // The SDK's sources and the wire contract its build compiles in.
  const dirs = [path.join(root, 'packages/sdk/src'), path.join(root, 'src/wire')];
  const newest = Math.max(...dirs.flatMap((d) => readdirSync(d).map((f) => statSync(path.join(d, f)).mtimeMs)));
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= newest) return;
  console.log('[browser tests] building the SDK bundle (scripts/build.mjs)…');
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
}
