import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/domain/schemas-dir.js';

/**
 * The layout rule of the README ("How it fits together"), checked on every import of src/ and of the
 * SDK's sources: dependencies point inward, and no module imports itself round a circle.
 *
 * - `wire` (the wire contract: windows, live and replay messages, the compact codec) is the ground
 *   floor, shared by the server and the client SDK; it imports nothing.
 * - `domain` knows only `wire`; `ports` the domain; `config`, `metrics` the domain; `codec` the
 *   domain and ports; `auth` (who a request speaks for) the domain, ports and config; `stage` (the
 *   loop every stage runs in) the domain, ports and metrics.
 * - `http` is the HTTP edge the composition installs (error handling, server limits, content
 *   encoding, health routes, the OpenAPI document, which is given the stages' schemas): it knows no
 *   stage, and no stage knows it.
 * - An adapter knows the shared layers, never a stage; a stage knows the shared layers, never an
 *   adapter, another stage or `http`.
 * - Only the composition (src/roles, src/app.ts, src/main.ts) picks adapters and wires stages.
 * - The SDK (packages/sdk) is a client: the server never imports it; `crowd`, a client tool, uses
 *   it by its package name only. The SDK imports nothing of the repository but `wire`.
 */
const STAGES = ['ingest', 'aggregate', 'publish', 'fanout', 'archive'];
const SHARED = ['wire', 'domain', 'ports', 'codec', 'config', 'metrics', 'stage', 'auth'];
const COMPOSITION = ['roles', 'app.ts', 'main.ts'];
const SDK = 'packages/sdk';

/** What a module in `area` may import, besides its own area. */
function allowed(area: string): string[] | 'anything' {
  if (COMPOSITION.includes(area)) return 'anything';
  if (area === 'wire') return [];
  if (area === 'domain') return ['wire'];
  if (area === 'ports') return ['wire', 'domain'];
  if (area === 'config') return ['domain'];
  if (area === 'metrics') return ['domain'];
  if (area === 'codec') return ['wire', 'domain', 'ports'];
  if (area === 'auth') return ['wire', 'domain', 'ports', 'config'];
  if (area === 'stage') return ['domain', 'ports', 'metrics'];
  if (area === 'http') return ['wire', 'domain', 'ports', 'config', 'metrics', 'stage'];
  if (area.startsWith('adapters/')) return ['wire', 'domain', 'ports', 'config', 'codec', 'metrics'];
  if (STAGES.includes(area)) return SHARED;
  if (area === 'crowd') return ['wire', 'domain'];
  if (area === SDK) return ['wire'];
  throw new Error(`src/${area} is in no layer of the import rule: add it to test/layout/imports.test.ts (and the README's folder table)`);
}

/** Which bare package names a module in `area` may import from this repository's own packages. */
function allowedPackages(area: string): string[] {
  return area === 'crowd' ? ['@emostream/sdk'] : [];
}

/** The layer of a repository-relative path: adapters by kind, composition files by name, else the top folder of src/. */
function areaOf(rel: string): string {
  if (rel.startsWith(`${SDK}/`)) return SDK;
  if (rel.startsWith('packages/')) return rel.split('/').slice(0, 2).join('/');
  const inSrc = rel.replace(/^src\//, '');
  if (COMPOSITION.includes(inSrc)) return inSrc;
  const [top, second] = inSrc.split('/');
  if (top === 'adapters') return `adapters/${second}`;
  return top!;
}

const root = repoRoot();

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

/** Static imports, re-exports, side-effect imports and dynamic import() with a literal, type-only ones included. */
const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)'([^']+)'/gm;

interface Edge { from: string; to: string; spec: string }

/** Every import between this repository's modules (src/, the SDK's src/), by repository-relative path. */
function edges(): { edges: Edge[]; bare: { from: string; spec: string }[] } {
  const out: Edge[] = [];
  const bare: { from: string; spec: string }[] = [];
  for (const file of [...sources('src'), ...sources(`${SDK}/src`)]) {
    if (file.startsWith('src/web/')) continue; // browser pages: plain ES modules, no server imports
    for (const [, spec] of readFileSync(path.join(root, file), 'utf8').matchAll(IMPORT)) {
      if (!spec!.startsWith('.')) {
        if (spec!.startsWith('@emostream/')) bare.push({ from: file, spec: spec! });
        continue;
      }
      const to = path.relative(root, path.resolve(root, path.dirname(file), spec!)).replace(/\.js$/, '.ts');
      out.push({ from: file, to, spec: spec! });
    }
  }
  return { edges: out, bare };
}

function violations(): string[] {
  const out: string[] = [];
  const { edges: all, bare } = edges();
  for (const { from, to } of all) {
    const area = areaOf(from);
    const target = areaOf(to);
    const may = allowed(area);
    if (to.startsWith('..') || (!to.startsWith('src/') && !to.startsWith('packages/'))) {
      out.push(`${from} (${area}) imports ${to}, outside src/ and packages/`);
      continue;
    }
    if (target === area || may === 'anything') {
      // The composition may import anything of the server, but a client package only by name.
      if (target.startsWith('packages/') && area !== target) out.push(`${from} (${area}) imports ${to} (${target}) by path`);
      continue;
    }
    if (!may.includes(target)) out.push(`${from} (${area}) imports ${to} (${target})`);
  }
  for (const { from, spec } of bare) {
    if (!allowedPackages(areaOf(from)).includes(spec)) out.push(`${from} (${areaOf(from)}) imports ${spec}`);
  }
  return out;
}

/** The import circles among the given edges (strongly connected components of more than one file, or a file importing itself). */
function circles(all: Pick<Edge, 'from' | 'to'>[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of all) next.set(from, [...(next.get(from) ?? []), to]);
  // Tarjan's algorithm.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (next.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('layout: dependencies point inward', () => {
  it('every import of src/ and the SDK keeps to the layers the README states', () => {
    expect(violations()).toEqual([]);
  });

  it('no import circles', () => {
    expect(circles(edges().edges)).toEqual([]);
  });

  it('catches what it is meant to catch', () => {
    // The rule itself, on imports that would break it.
    expect(allowed('fanout')).not.toContain('ingest');
    expect(allowed('fanout')).not.toContain('http');
    expect(allowed('aggregate')).not.toContain('adapters/kafka');
    expect(allowed('adapters/kafka')).not.toContain('aggregate');
    expect(allowed('http')).not.toContain('fanout');
    expect(allowed('domain')).toEqual(['wire']);
    expect(allowed('wire')).toEqual([]);
    expect(allowed(SDK)).toEqual(['wire']);
    expect(allowedPackages('domain')).toEqual([]);
    expect(areaOf('src/adapters/kafka/kafka-log.ts')).toBe('adapters/kafka');
    expect(areaOf('src/http/openapi.ts')).toBe('http');
    expect(areaOf('packages/sdk/src/client.ts')).toBe(SDK);
    expect(() => allowed('newfolder')).toThrow(/no layer/);
    expect(circles([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }, { from: 'c', to: 'd' }])).toEqual([['a', 'b', 'c']]);
    expect(circles([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }])).toEqual([]);
  });
});
