// Builds the package's mini-program files (the `miniprogram` field of
// package.json names their folder): src/miniprogram.js and what it imports
// as one CommonJS file at ES2015's syntax, which WeChat's npm builder and
// older base libraries parse. esbuild stops with an error on syntax it
// cannot lower to ES2015.

import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'miniprogram_dist');

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src/miniprogram.js')],
  outfile: join(out, 'index.js'),
  bundle: true,
  format: 'cjs',
  platform: 'neutral',
  target: 'es2015',
  charset: 'utf8',
  logLevel: 'warning',
});
