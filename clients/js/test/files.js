// Files of pseudo-random bytes for the tests.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new file of `size` random bytes: its path, bytes and SHA-256. */
export function randomFile(size, name = 'sample.bin') {
  const bytes = randomBytes(size);
  const path = join(mkdtempSync(join(tmpdir(), 'ferry-js-file-')), name);
  writeFileSync(path, bytes);
  return { path, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** The bytes at `url`, which must answer 200. */
export async function download(url) {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}
