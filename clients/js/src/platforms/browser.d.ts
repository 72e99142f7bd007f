import type { Platform } from '../index.js';

/** Browsers: a file is a File or Blob; hashing runs in a Web Worker (WebAssembly). */
export function browserPlatform(options?: { fetch?: typeof fetch; maxConcurrency?: number }): Platform<Blob>;
