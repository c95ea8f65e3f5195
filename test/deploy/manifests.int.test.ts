import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/domain/schemas-dir.js';

/*
 * The deployment files, checked as what reads them would: deploy/kubernetes against Kubernetes'
 * schemas (strict: an unknown field fails), compose/ against the Compose Specification's schema,
 * both by scripts/deploy-check.sh (tools from PyPI, cached). Then every environment variable they
 * set for an EmoStream container must be one its program reads: a misspelt or retired name is
 * otherwise silently ignored, and the deployment runs on a default nobody chose.
 */
const root = repoRoot();

/** The names src/config/config.ts reads: every quoted upper-case name and every env.NAME in it. */
function configNames(): Set<string> {
  const src = readFileSync(path.join(root, 'src/config/config.ts'), 'utf8');
  return new Set([...src.matchAll(/'([A-Z][A-Z0-9_]{2,})'/g), ...src.matchAll(/\benv\.([A-Z][A-Z0-9_]{2,})\b/g)].map((m) => m[1]!));
}

/**
 * The names the Spark job's scripts and code mention, and the ones Apache Spark's own launch
 * scripts read (sbin/spark-daemon.sh, spark-class: documented in Spark's spark-env.sh.template).
 */
function sparkNames(): Set<string> {
  const dir = path.join(root, 'spark');
  const text = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(sh|py)$/.test(e.name))
    .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'))
    .join('\n');
  const names = new Set([...text.matchAll(/\b([A-Z][A-Z0-9_]{2,})\b/g)].map((m) => m[1]!));
  for (const own of ['SPARK_NO_DAEMONIZE', 'SPARK_DAEMON_MEMORY', 'SPARK_MASTER_OPTS', 'SPARK_WORKER_OPTS']) names.add(own);
  return names;
}

/** Names a file sets that its program does not read. */
function unknownNames(set: Record<string, Record<'node' | 'spark', string[]>>, known: Record<'node' | 'spark', Set<string>>): string[] {
  const out: string[] = [];
  for (const [file, kinds] of Object.entries(set)) {
    for (const kind of ['node', 'spark'] as const) for (const name of kinds[kind] ?? []) if (!known[kind].has(name)) out.push(`${file} (${kind}): ${name}`);
  }
  return out;
}

describe('deployment files', () => {
  it('validate against the Kubernetes and Compose schemas, and set only environment variables their programs read', () => {
    // In CI a tool that cannot install fails here (the script exits non-zero): nothing skips.
    const out = execFileSync('bash', [path.join(root, 'scripts/deploy-check.sh')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 });
    const set = JSON.parse(out) as Record<string, Record<'node' | 'spark', string[]>>;
    expect(Object.keys(set).sort()).toEqual(['compose/docker-compose.cluster.yml', 'compose/docker-compose.yml', 'deploy/kubernetes/emostream.yaml']);
    // Every file configures EmoStream's own roles.
    for (const kinds of Object.values(set)) expect(kinds.node).toContain('ROLE');
    const known = { node: configNames(), spark: sparkNames() };
    expect(unknownNames(set, known)).toEqual([]);
    // The check itself catches a name nothing reads.
    expect(unknownNames({ 'x.yml': { node: ['KAFKA_BROKER'], spark: [] } }, known)).toEqual(['x.yml (node): KAFKA_BROKER']);
  }, 360_000);
});
