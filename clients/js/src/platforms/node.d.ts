import type { Platform } from '../index.js';

/** Node: a file is its path; hashing by node:crypto. */
export function nodePlatform(options?: { fetch?: typeof fetch; maxConcurrency?: number }): Platform<string>;
