import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root, both when running from src/ (tsx) and from dist/src/ (compiled). */
export function repoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(here, up);
}

export function schemasDir(): string {
  return process.env.EMO_SCHEMAS_DIR ?? path.join(repoRoot(), 'schemas');
}
