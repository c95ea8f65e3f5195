import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/domain/schemas-dir.js';

/**
 * The layout rule, checked on every import in src/ so the layout stays what the README shows:
 * dependencies point inward. Ports and domain know no adapter; adapters know no stage; a stage
 * knows no adapter and no other stage. Only the composition (roles/, app.ts, main.ts, and the
 * OpenAPI document, which gathers every stage's route schemas) picks adapters and wires stages.
 */
const STAGES = ['ingest', 'aggregate', 'publish', 'fanout', 'archive'];
const SHARED = ['domain', 'ports', 'codec', 'config', 'http', 'metrics', 'stage'];
const COMPOSITION = ['roles', 'app.ts', 'main.ts', 'http/openapi.ts'];

/** What a module in `area` may import, besides its own area and packages/ (the SDK's types). */
function allowed(area: string): string[] | 'anything' {
  if (COMPOSITION.includes(area)) return 'anything';
  if (area === 'domain') return [];
  if (area === 'ports') return ['domain'];
  if (area === 'config') return ['domain'];
  if (area === 'codec') return ['domain', 'ports'];
  if (area === 'metrics') return ['domain'];
  // The edge reads its settings (timeouts, tokens) from the one config.
  if (area === 'http') return ['domain', 'ports', 'config', 'metrics', 'stage'];
  // The loop and the progress every stage runs with: shared by the stages, knows none of them.
  if (area === 'stage') return ['domain', 'ports', 'metrics'];
  if (area.startsWith('adapters/')) return ['domain', 'ports', 'config', 'codec', 'metrics'];
  if (STAGES.includes(area)) return SHARED;
  if (area === 'crowd') return ['domain'];
  throw new Error(`src/${area} is in no layer of the import rule: add it to test/layout/imports.test.ts (and the README's folder table)`);
}

/** The layer a src/-relative path belongs to: adapters by kind, composition files by name, else the top folder. */
function areaOf(rel: string): string {
  if (COMPOSITION.includes(rel)) return rel;
  const [top, second] = rel.split('/');
  if (top === 'adapters') return `adapters/${second}`;
  return top!;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

const src = path.join(repoRoot(), 'src');
const IMPORT = /(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g;

function violations(): string[] {
  const out: string[] = [];
  for (const file of sources(src)) {
    const rel = path.relative(src, file);
    if (rel.startsWith('web/')) continue; // browser pages: plain ES modules, no server imports
    const area = areaOf(rel);
    const may = allowed(area);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = path.relative(src, path.resolve(path.dirname(file), spec!));
      if (target.startsWith('..')) continue; // packages/sdk
      const to = areaOf(target.replace(/\.js$/, '.ts'));
      if (may === 'anything' || to === area) continue;
      if (!may.includes(to)) out.push(`src/${rel} (${area}) imports src/${target} (${to})`);
    }
  }
  return out;
}

describe('layout: dependencies point inward', () => {
  it('no import from an adapter into a stage or the reverse, no stage into another, ports and domain import no adapter', () => {
    expect(violations()).toEqual([]);
  });

  it('catches what it is meant to catch', () => {
    // The rule itself, on imports that would break it.
    expect(allowed('fanout')).not.toContain('ingest');
    expect(allowed('aggregate')).not.toContain('adapters/kafka');
    expect(allowed('adapters/kafka')).not.toContain('aggregate');
    expect(allowed('ports')).toEqual(['domain']);
    expect(areaOf('adapters/kafka/kafka-log.ts')).toBe('adapters/kafka');
    expect(areaOf('http/openapi.ts')).toBe('http/openapi.ts');
    expect(() => allowed('newfolder')).toThrow(/no layer/);
  });
});
