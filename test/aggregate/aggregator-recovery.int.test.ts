import { afterEach, describe, expect, it } from 'vitest';
import { ConfluentSchemaRegistry } from '../../src/adapters/confluent/confluent-registry.js';
import { createSerdes, type Serdes } from '../../src/codec/serde.js';
import type { Config } from '../../src/config/config.js';
import { createTopics, diffAggregates, envFor, expectedAggregates, kafkaConfig, produceReactions, readAggregates } from '../../helpers/kafka.js';
import { startRoleProcess, type RoleProcess } from '../helpers/role-process.js';

const procs: RoleProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop();
});

async function setup(): Promise<{ config: Config; serdes: Serdes; env: Record<string, string> }> {
  const config = kafkaConfig({ role: 'aggregator', aggregation: { graceMs: 1500 } });
  await createTopics(config);
  const serdes = await createSerdes(new ConfluentSchemaRegistry(config.registryUrl), config.log);
  return { config, serdes, env: { ...envFor(config), ROLE: 'aggregator' } };
}

async function aggregator(env: Record<string, string>, instanceId: string): Promise<RoleProcess> {
  const p = await startRoleProcess({ ...env, INSTANCE_ID: instanceId });
  procs.push(p);
  return p;
}

describe('exactly-once TypeScript aggregator on Kafka', () => {
  it('kill -9 mid-stream, restart: every window exact, nothing lost, nothing counted twice', async () => {
    const { config, serdes, env } = await setup();
    let instance = await aggregator(env, 'solo');
    let killed = false;
    let processedBeforeKill = 0;
    const sent = await produceReactions(config, serdes.reaction, 60_000, {
      matches: 5,
      perSecond: 6000,
      onProgress: async (n) => {
        if (!killed && n >= 24_000) {
          killed = true;
          processedBeforeKill = await instance.metric('emostream_aggregator_reactions_total');
          await instance.kill9();
          // Same instance id, as a restarted pod: its transactional id fences the dead one's open transaction.
          instance = await aggregator(env, 'solo');
        }
      },
    });
    expect(killed).toBe(true);
    expect(processedBeforeKill).toBeGreaterThan(0);
    const { aggregates: decoded } = await readAggregates(config, serdes.aggregate, sent.length, 150_000);
    expect(diffAggregates(expectedAggregates(config, sent), decoded)).toEqual([]);
    expect(await instance.metric('emostream_aggregator_dropped_total', { reason: 'late' })).toBe(0);
  });

  it('two instances share the partitions; when one dies the other takes over its windows exactly', async () => {
    const { config, serdes, env } = await setup();
    const a = await aggregator(env, 'a');
    const b = await aggregator(env, 'b');
    let bKilled = false;
    let bProcessed = 0;
    let aProcessedBefore = 0;
    const sent = await produceReactions(config, serdes.reaction, 60_000, {
      matches: 12,
      perSecond: 6000,
      onProgress: async (n) => {
        if (!bKilled && n >= 30_000) {
          bKilled = true;
          bProcessed = await b.metric('emostream_aggregator_reactions_total');
          aProcessedBefore = await a.metric('emostream_aggregator_reactions_total');
          await b.kill9();
        }
      },
    });
    // Both had partitions (12 matches over 6 partitions) before b died.
    expect(bProcessed).toBeGreaterThan(0);
    expect(aProcessedBefore).toBeGreaterThan(0);
    const { aggregates: decoded } = await readAggregates(config, serdes.aggregate, sent.length, 150_000);
    const problems = diffAggregates(expectedAggregates(config, sent), decoded);
    if (problems.length > 0) console.error(`instance a said:\n${a.output()}`);
    expect(problems).toEqual([]);
  });
});
