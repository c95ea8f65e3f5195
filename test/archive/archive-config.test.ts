import { describe, expect, it } from 'vitest';
import { loadConfig, ROLES } from '../../src/config/config.js';

describe('archive configuration', () => {
  it('defaults: PGlite in memory, the project PostgreSQL URL, 30 days of retention; an archiver role', () => {
    expect(loadConfig({}).archive).toEqual({ adapter: 'pglite', dir: '', postgresUrl: 'postgres://emostream:emostream@127.0.0.1:25432/emostream', retentionDays: 30, sweepIntervalMs: 3_600_000 });
    expect(ROLES).toContain('archiver');
    expect(loadConfig({ ROLE: 'archiver', ARCHIVE_ADAPTER: 'postgres', POSTGRES_URL: 'postgresql://u:p@127.0.0.1:5/db', ARCHIVE_RETENTION_DAYS: '0' }).archive).toMatchObject({ adapter: 'postgres', postgresUrl: 'postgresql://u:p@127.0.0.1:5/db', retentionDays: 0 });
  });

  it('reports every bad value by name', () => {
    expect(() => loadConfig({ ARCHIVE_ADAPTER: 'mysql', POSTGRES_URL: 'http://x', ARCHIVE_RETENTION_DAYS: '-1' })).toThrow(/POSTGRES_URL=.*\n.*ARCHIVE_RETENTION_DAYS=.*|ARCHIVE_ADAPTER=/s);
    expect(() => loadConfig({ ARCHIVE_ADAPTER: 'mysql' })).toThrow(/ARCHIVE_ADAPTER="mysql" must be one of pglite, postgres/);
    expect(() => loadConfig({ POSTGRES_URL: 'http://x' })).toThrow(/POSTGRES_URL=/);
    expect(() => loadConfig({ ARCHIVE_RETENTION_DAYS: '-1' })).toThrow(/ARCHIVE_RETENTION_DAYS=/);
  });
});
