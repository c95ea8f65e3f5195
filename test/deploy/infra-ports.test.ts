import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// A listener on a port inside Linux's ephemeral range (32768–60999) can find that port taken by the
// local end of an outgoing connection and exit at start: a CI run lost its cluster tier that way
// (Kafka node 3: "Socket server failed to bind to 127.0.0.1:39096: Address already in use").
const EPHEMERAL_FIRST = 32768;
const infraDir = path.resolve(import.meta.dirname, '../../scripts/infra');

function defaultPorts(): { script: string; name: string; port: number }[] {
  const out: { script: string; name: string; port: number }[] = [];
  for (const script of readdirSync(infraDir).filter((f) => f.endsWith('.sh'))) {
    const text = readFileSync(path.join(infraDir, script), 'utf8');
    for (const m of text.matchAll(/\$\{([A-Z_]*PORTS?):-([0-9 ]+)\}/g)) {
      for (const p of m[2]!.trim().split(/\s+/)) out.push({ script, name: m[1]!, port: Number(p) });
    }
  }
  return out;
}

describe('default ports of the infrastructure scripts', () => {
  const ports = defaultPorts();

  it('finds the ports of every profile', () => {
    const names = new Set(ports.map((p) => p.name));
    for (const n of ['KAFKA_PORT', 'REDIS_PORT', 'REGISTRY_PORT', 'KAFKA_CLUSTER_PORTS', 'REDIS_SENTINEL_PORTS', 'SPARK_MASTER_PORT']) {
      expect(names, n).toContain(n);
    }
  });

  it('sit below the ephemeral range, so no outgoing connection can hold one', () => {
    const inRange = ports.filter((p) => p.port >= EPHEMERAL_FIRST || p.port < 1024);
    expect(inRange).toEqual([]);
  });

  it("leave Spark's port retries clear of every other listener", () => {
    // Spark binds the driver, block managers and UI at the port given or, when taken, at one of the
    // next spark.port.maxRetries ports: those ranges must hold no master, worker or other listener.
    const conf = readFileSync(path.join(infraDir, 'spark-cluster.sh'), 'utf8');
    const retries = Number(/spark\.port\.maxRetries\s+(\d+)/.exec(conf)?.[1]);
    expect(retries).toBeGreaterThan(0);
    const at = (name: string) => ports.find((p) => p.name === name)!.port;
    const retrying = new Set(['SPARK_DRIVER_PORT', 'SPARK_BLOCK_MANAGER_PORT', 'SPARK_UI_PORT']);
    // Executors' block managers start one above the driver's (spark.blockManager.port).
    const ranges = [...retrying].map((n) => [at(n), at(n) + retries] as const).concat([[at('SPARK_BLOCK_MANAGER_PORT') + 1, at('SPARK_BLOCK_MANAGER_PORT') + 1 + retries]]);
    const inside = ports.filter((p) => !retrying.has(p.name) && ranges.some(([lo, hi]) => p.port >= lo && p.port <= hi));
    expect(inside).toEqual([]);
  });

  it('never give two listeners the same port', () => {
    const byPort = new Map<number, string>();
    const clashes: string[] = [];
    for (const p of ports) {
      const key = `${p.name}`;
      const seen = byPort.get(p.port);
      if (seen !== undefined && seen !== key) clashes.push(`${p.port}: ${seen} and ${key}`);
      byPort.set(p.port, key);
    }
    expect(clashes).toEqual([]);
  });
});
