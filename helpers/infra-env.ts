import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../src/domain/schemas-dir.js';

/** The folder scripts/infra writes its state and `env` file to (EMOSTREAM_INFRA_DIR, else .infra). */
export function infraDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.EMOSTREAM_INFRA_DIR ?? path.join(repoRoot(), '.infra');
}

/** The `export NAME=value` lines of an infra `env` file (written by scripts/infra/up.sh). */
export function readInfraEnv(file: string): Record<string, string> {
  if (!existsSync(file)) throw new Error(`${file} missing: scripts/infra/up.sh did not start the services`);
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^["']|["']$/g, '');
  }
  return out;
}

/**
 * Copies an infra `env` file into `target`. `keepExisting` leaves variables already set alone (a
 * bench run pointed at other services by hand); tests take the file's values.
 */
export function applyInfraEnv(file: string, target: NodeJS.ProcessEnv = process.env, opts: { keepExisting?: boolean } = {}): void {
  for (const [k, v] of Object.entries(readInfraEnv(file))) {
    if (!opts.keepExisting || target[k] === undefined) target[k] = v;
  }
}
