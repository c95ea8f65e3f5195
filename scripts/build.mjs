// Compiles the server (tsc -> dist/) and bundles the SDK for browsers (esbuild -> dist/web/).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
mkdirSync(path.join(root, 'dist/web'), { recursive: true });
await build({
  entryPoints: [path.join(root, 'packages/sdk/src/index.ts')],
  outfile: path.join(root, 'dist/web/emostream-sdk.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});
writeFileSync(path.join(root, 'dist/.build-stamp'), new Date().toISOString());
