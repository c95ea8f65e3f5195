import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Makes sure the real services run before any integration test (idempotent: a no-op when up),
 * and exports their addresses. A service that cannot start fails the tier; nothing is skipped.
 */
export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '../..');
  if (process.env.EMO_SKIP_INFRA_UP !== '1') {
    execFileSync('bash', [path.join(root, 'scripts/infra/up.sh'), 'kafka', 'registry', 'redis'], { stdio: 'inherit' });
  }
  const envFile = path.join(root, '.infra/env');
  if (!existsSync(envFile)) throw new Error(`${envFile} missing: scripts/infra/up.sh did not start the services`);
  for (const line of readFileSync(envFile, 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) process.env[m[1]!] = m[2]!.replace(/^["']|["']$/g, '');
  }
  for (const v of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'REDIS_URL']) {
    if (!process.env[v]) throw new Error(`${v} not set by scripts/infra/up.sh`);
  }
}
