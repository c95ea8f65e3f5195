/** Types of scripts/ensure-install.mjs for the TypeScript that imports it (bench/lib.ts). */
/** Runs `npm ci` (no install scripts) when node_modules is missing or older than the lockfile. */
export function ensureInstalled(): void;
/** Builds node-rdkafka, after the system libraries, unless a build with every needed feature is there. */
export function ensureKafkaClient(): void;
/** Builds dist/ when src/ (or the SDK's sources, or the lockfile) is newer than the last build. */
export function ensureBuilt(): void;
