// Browser tier global setup: the pages load the SDK bundle from dist/web; build it when it is missing
// or older than the SDK sources.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/domain/schemas-dir.js';

export default function setup(): void {
  const root = repoRoot();
  const bundle = path.join(root, 'dist/web/emostream-sdk.js');
  const sdkDir = path.join(root, 'packages/sdk/src');
  const newest = Math.max(...readdirSync(sdkDir).map((f) => statSync(path.join(sdkDir, f)).mtimeMs));
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= newest) return;
  console.log('[browser tests] building the SDK bundle (scripts/build.mjs)…');
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
}
