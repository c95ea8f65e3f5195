// Compiles the server (tsc -> dist/) and builds the SDK package (packages/sdk), whose browser
// bundle the server serves at /assets/emostream-sdk.js (copied to dist/web/).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSdk } from '../packages/sdk/scripts/build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
const bundle = await buildSdk();
mkdirSync(path.join(root, 'dist/web'), { recursive: true });
for (const f of [bundle, `${bundle}.map`]) copyFileSync(f, path.join(root, 'dist/web', path.basename(f)));
writeFileSync(path.join(root, 'dist/.build-stamp'), new Date().toISOString());
