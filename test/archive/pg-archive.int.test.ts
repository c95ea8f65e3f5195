import { randomUUID } from 'node:crypto';
import { openPostgresArchive } from '../../src/adapters/postgres/pg-window-archive.js';
import { archiveContract } from './archive-suite.js';

// POSTGRES_URL comes from scripts/infra/up.sh (test/helpers/infra-setup.ts): a real server, never a mock.
const url = (): string => {
  const u = process.env.POSTGRES_URL;
  if (!u) throw new Error('POSTGRES_URL not set: scripts/infra/up.sh postgres did not start PostgreSQL');
  return u;
};
const run = randomUUID().slice(0, 8);
let n = 0;

archiveContract('postgres', { open: () => openPostgresArchive({ url: url() }), match: (p) => `${p}-${run}-${n++}` });
