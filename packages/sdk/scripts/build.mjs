// Builds @emostream/sdk: one ESM module (dist/index.js, esbuild; eventemitter3 left to npm), its
// declarations (tsc, dist/types/), and one minified browser bundle with its dependencies inlined
// (dist/browser/emostream-sdk.js). The wire contract (the repository's src/wire/, which the server
// builds from too) is compiled into all three, so the package is whole on its own. Run by
// `npm run build` here, by `npm pack` (prepack), and by the server's scripts/build.mjs, which
// serves the bundle at /assets/.
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
    outfile: path.join(sdkRoot, 'dist/index.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    sourcemap: true,
    external: ['eventemitter3'],
    logLevel: 'warning',
  });
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
