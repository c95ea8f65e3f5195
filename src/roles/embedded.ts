import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { EmojiCatalog } from '../domain/catalog.js';
import type { Clock } from '../ports/clock.js';
import { startRole, type Pipeline } from './start.js';

export type { Pipeline };

/** Role `all` on the memory adapters: the whole pipeline in one process, nothing else needed. */
export function startEmbedded(config: Config, deps: { logger: Logger; clock?: Clock; catalog?: EmojiCatalog }): Promise<Pipeline> {
  return startRole({ ...config, role: 'all', adapters: { log: 'memory', registry: 'memory', bus: 'memory' } }, deps);
}
