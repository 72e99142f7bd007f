// Builds the package's mini-program files (the `miniprogram` field of
// package.json names their folder): src/miniprogram.js and what it imports
// as one CommonJS file at ES2015's syntax, which WeChat's npm builder and
// older base libraries parse, and sha256.wasm, the SHA-256 module the WeChat
// platform loads with WXWebAssembly, taken from the vendored hash-wasm file.
// esbuild stops with an error on syntax it cannot lower to ES2015.

import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
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
writeFileSync(join(out, 'sha256.wasm'), vendoredSha256Module());

/** The WebAssembly module inside the vendored hash-wasm file, once the file matches its recorded checksum. */
function vendoredSha256Module() {
  const vendor = join(root, 'src/vendor');
  const manifest = JSON.parse(readFileSync(join(vendor, 'hash-wasm.json'), 'utf8'));
  const source = readFileSync(join(vendor, manifest.file));
  const checksum = createHash('sha256').update(source).digest('hex');
  if (checksum !== manifest.sha256) {
    throw new Error(`${manifest.file} has SHA-256 ${checksum}, not the ${manifest.sha256} recorded in hash-wasm.json`);
  }
  const data = /name:"sha256",data:"([A-Za-z0-9+/=]+)"/.exec(source.toString('utf8'));
  if (!data) throw new Error(`${manifest.file} holds no SHA-256 module`);
  const module = Buffer.from(data[1], 'base64');
  if (!WebAssembly.validate(module)) throw new Error(`the module in ${manifest.file} is not valid WebAssembly`);
  return module;
}
