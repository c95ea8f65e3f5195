import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { applyInfraEnv, infraDir } from '../../helpers/infra-env.js';

/**
 * Makes sure the real services run before any integration test (idempotent: a no-op when up),
 * and exports their addresses. A service that cannot start fails the tier; nothing is skipped.
 */
export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '../..');
  if (process.env.EMO_SKIP_INFRA_UP !== '1') {
    execFileSync('bash', [path.join(root, 'scripts/infra/up.sh'), 'kafka', 'registry', 'redis', 'postgres'], { stdio: 'inherit' });
  }
  const envFile = path.join(infraDir(), 'env');
  applyInfraEnv(envFile, process.env);
  for (const v of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'REDIS_URL', 'POSTGRES_URL']) {
    if (!process.env[v]) throw new Error(`${v} not set by scripts/infra/up.sh`);
  }
}
