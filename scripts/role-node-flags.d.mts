/** Types of scripts/role-node-flags.mjs for the TypeScript that imports it (bench/lib.ts). */
export declare const ROLE_NODE_FLAGS: readonly string[];
