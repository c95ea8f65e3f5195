import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { applyInfraEnv } from '../../helpers/infra-env.js';

/**
 * Starts the cluster profile (idempotent: a no-op when it runs) and exports its addresses. A
 * service that cannot start throws, so the tier fails; nothing is skipped.
 */
export default function setup(): () => void {
  const root = path.resolve(import.meta.dirname, '../..');
  const dir = path.join(root, '.infra/cluster');
  execFileSync('bash', [path.join(root, 'scripts/infra/up.sh'), '--profile', 'cluster'], { stdio: 'inherit', env: { ...process.env, EMOSTREAM_INFRA_DIR: dir } });
  const envFile = path.join(dir, 'env');
  applyInfraEnv(envFile, process.env);
  for (const v of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'REDIS_SENTINELS', 'SPARK_MASTER_URL', 'SPARK_CONF_DIR']) {
    if (!process.env[v]) throw new Error(`${v} not set by the cluster profile (${envFile})`);
  }
  // The roles' Redis URL must not point at the single-node Redis: through Sentinel only.
  process.env.REDIS_URL = 'redis://sentinel-managed';
  // Stopped afterwards (a dozen JVMs and daemons the tiers after this one should not compete
  // with) unless EMO_CLUSTER_KEEP_INFRA=1 keeps them for the next local run.
  return () => {
    if (process.env.EMO_CLUSTER_KEEP_INFRA === '1') return;
    execFileSync('bash', [path.join(root, 'scripts/infra/down.sh'), '--profile', 'cluster'], { stdio: 'inherit', env: { ...process.env, EMOSTREAM_INFRA_DIR: dir } });
  };
}
