import { pino } from 'pino';
import { EmojiCatalog } from '../src/domain/catalog.js';
import { loadConfig, type Config, type DeepPartial } from '../src/config/config.js';
import { MemorySchemaRegistry } from '../src/adapters/memory/memory-schema-registry.js';
import { emoError } from '../src/domain/errors.js';

export const catalog = EmojiCatalog.load();
export const silentLogger = pino({ level: 'silent' });

/** The real config loader, over an empty environment, with test overrides. */
export function testConfig(overrides: DeepPartial<Config> = {}): Config {
  return loadConfig({}, { port: 0, ...overrides });
}

/** Index-aligned counts array from an { emoji: n } map. */
export function countsArray(counts: Record<string, number>): number[] {
  const arr = new Array<number>(catalog.size).fill(0);
  for (const [emoji, n] of Object.entries(counts)) arr[catalog.get(emoji)!.index] = n;
  return arr;
}

export function valenceCenti(emoji: string): number {
  return catalog.get(emoji)!.valenceCenti;
}

/**
 * The memory registry that is away on demand: getSchema fails with the error the Confluent adapter
 * gives for a registry that does not answer (EMO_ERR_REGISTRY), while `downFor` calls remain. What
 * it stands for (refused connections, 5xx) is shown on the real registry in
 * test/codec/confluent-registry.int.test.ts; here it lets a stage meet it at a chosen record.
 */
export class AwayRegistry extends MemorySchemaRegistry {
  downFor = 0;
  failedCalls = 0;
  override async getSchema(id: number): Promise<object> {
    if (this.downFor > 0) {
      this.downFor--;
      this.failedCalls++;
      throw emoError('REGISTRY', `schema id ${id} could not be fetched: connect ECONNREFUSED`);
    }
    return super.getSchema(id);
  }
}
