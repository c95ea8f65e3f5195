// Builds @emostream/sdk: ESM + .d.ts with tsc (dist/), and one minified browser bundle with its
// dependencies inlined (dist/browser/emostream-sdk.js). Run by `npm run build` here, by `npm pack`
// (prepack), and by the server's scripts/build.mjs, which serves the bundle at /assets/.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const sdkRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const bundleFile = path.join(sdkRoot, 'dist/browser/emostream-sdk.js');

export async function buildSdk() {
  rmSync(path.join(sdkRoot, 'dist'), { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(sdkRoot, 'tsconfig.json')], { stdio: 'inherit' });
  await build({
    entryPoints: [path.join(sdkRoot, 'src/index.ts')],
    outfile: bundleFile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    minify: true,
    logLevel: 'warning',
  });
  return bundleFile;
}

if (import.meta.url === `file://${process.argv[1]}`) await buildSdk();
