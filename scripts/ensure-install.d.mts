/** Types of scripts/ensure-install.mjs for the TypeScript that imports it (bench/lib.ts). */
/** Runs `npm ci` when node_modules is missing or older than the lockfile. */
export function ensureInstalled(): void;
/** Builds dist/ when src/ (or the SDK's sources, or the lockfile) is newer than the last build. */
export function ensureBuilt(): void;
