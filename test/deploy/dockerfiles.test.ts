// The Dockerfiles against the tree they build from. No Docker engine runs here, so an image is
// never built in the tests: this reads each Dockerfile's build stage and checks what a build needs
// (every COPY source exists; the npm workspaces' manifests are there before `npm ci`; every file
// the build script imports, and every workspace it builds, is copied before the build runs). A
// Dockerfile that forgot packages/ once passed every other check.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

interface Step {
  kind: 'COPY' | 'RUN';
  args: string;
}

/** The first stage's COPY and RUN steps, in order (line continuations joined). */
function buildSteps(file: string): Step[] {
  const text = readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  const steps: Step[] = [];
  let stages = 0;
  for (const line of text.split('\n')) {
    const m = /^\s*(FROM|COPY|RUN)\s+(.*)$/i.exec(line);
    if (!m) continue;
    const kind = m[1]!.toUpperCase();
    if (kind === 'FROM' && ++stages > 1) break;
    if (kind === 'COPY' || kind === 'RUN') steps.push({ kind, args: m[2]!.trim() });
  }
  return steps;
}

/** Sources of a COPY step from the build context (not --from another stage). */
function copySources(args: string): string[] {
  if (/--from=/.test(args)) return [];
  const parts = args.split(/\s+/).filter((p) => !p.startsWith('--'));
  return parts.slice(0, -1).map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
}

/** Relative .mjs/.js imports reachable from a script, transitively (the build's own files). */
function scriptImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(/from\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = path.resolve(path.dirname(file), m[1]!);
    if (/\.m?js$/.test(target) && existsSync(target)) scriptImports(target, seen);
  }
  return seen;
}

const covered = (copied: string[], rel: string) => copied.some((c) => rel === c || rel.startsWith(`${c}/`));

const dockerfiles = readdirSync(path.join(root, 'compose')).filter((f) => /^Dockerfile/.test(f));
const workspaces = ((JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { workspaces?: string[] }).workspaces ?? []).flatMap((w) =>
  w.endsWith('/*') ? readdirSync(path.join(root, w.slice(0, -2))).map((d) => `${w.slice(0, -2)}/${d}`) : [w],
);

describe('Dockerfiles build from what the tree has', () => {
  it('finds the Dockerfiles and the workspaces', () => {
    expect(dockerfiles).toContain('Dockerfile');
    expect(workspaces).toContain('packages/sdk');
  });

  for (const name of dockerfiles) {
    it(`${name}: every COPY source exists in the repository`, () => {
      const missing = buildSteps(path.join(root, 'compose', name))
        .filter((s) => s.kind === 'COPY')
        .flatMap((s) => copySources(s.args))
        .filter((src) => !existsSync(path.join(root, src)));
      expect(missing).toEqual([]);
    });
  }

  it('Dockerfile: the workspaces are there for npm ci, and the build script has every file it imports and every workspace', () => {
    const steps = buildSteps(path.join(root, 'compose/Dockerfile'));
    const copiedBefore = (i: number) => steps.slice(0, i).flatMap((s) => (s.kind === 'COPY' ? copySources(s.args) : []));
    const ci = steps.findIndex((s) => s.kind === 'RUN' && /\bnpm ci\b/.test(s.args));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(workspaces.filter((w) => !covered(copiedBefore(ci), `${w}/package.json`))).toEqual([]);
    const build = steps.findIndex((s) => s.kind === 'RUN' && s.args.includes('scripts/build.mjs'));
    expect(build).toBeGreaterThan(ci);
    const needed = [...scriptImports(path.join(root, 'scripts/build.mjs'))].map((f) => path.relative(root, f));
    expect(needed).toContain('packages/sdk/scripts/build.mjs');
    const copied = copiedBefore(build);
    expect(needed.filter((f) => !covered(copied, f))).toEqual([]);
    // What the SDK build compiles: its own sources and the wire contract it shares with the server.
    expect(['packages/sdk/src', 'packages/sdk/tsconfig.json', 'src/wire'].filter((f) => !covered(copied, f))).toEqual([]);
  });
});
