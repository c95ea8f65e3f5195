import pg from 'pg';
import { SqlWindowArchive, type SqlClient } from './sql-window-archive.js';

/**
 * The archive on a PostgreSQL server (the distributed mode; scripts/infra/postgres.sh runs one on
 * 127.0.0.1). A small pool: the archiver writes one batch at a time, the query routes read beside it.
 */
export async function openPostgresArchive(o: { url: string; poolSize?: number; onError?: (err: Error) => void }): Promise<SqlWindowArchive> {
  const pool = new pg.Pool({ connectionString: o.url, max: o.poolSize ?? 4, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 5_000 });
  // An idle client's connection dropping (a server restart) is reported here; the pool replaces it.
  pool.on('error', (err) => o.onError?.(err));
  const client: SqlClient = {
    query: async <T>(text: string, params?: unknown[]) => (await pool.query(text, params)).rows as T[],
    exec: async (text: string) => {
      await pool.query(text);
    },
    close: () => pool.end(),
  };
  const archive = new SqlWindowArchive(client);
  try {
    await archive.init();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return archive;
}
