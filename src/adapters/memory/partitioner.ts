/** FNV-1a over the UTF-8 key: stable across processes, so a match always lands on one partition. */
export function partitionFor(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(key, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}
