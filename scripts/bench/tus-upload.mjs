// Sends one file to a tus server with the core protocol: a creation, then
// PATCHes of PATCH_MIB each in a row. Prints nothing; exits non-zero on error.
//   node tus-upload.mjs BASE_URL FILE [PATCH_MIB=8]
import { open, stat } from "node:fs/promises";

const [base, path, patchMib = "8"] = process.argv.slice(2);
const size = (await stat(path)).size;
const created = await fetch(`${base}/files`, {
  method: "POST",
  headers: { "Tus-Resumable": "1.0.0", "Upload-Length": String(size) },
});
if (created.status !== 201) throw new Error(`creation answered ${created.status}`);
const location = new URL(created.headers.get("location"), base).href;
const file = await open(path);
const patch = Number(patchMib) << 20;
const buffer = Buffer.alloc(patch);
for (let offset = 0; offset < size; ) {
  const { bytesRead } = await file.read(buffer, 0, patch, offset);
  const answer = await fetch(location, {
    method: "PATCH",
    headers: {
      "Tus-Resumable": "1.0.0",
      "Upload-Offset": String(offset),
      "Content-Type": "application/offset+octet-stream",
    },
    body: buffer.subarray(0, bytesRead),
  });
  if (answer.status !== 204) throw new Error(`PATCH at ${offset} answered ${answer.status}`);
  offset += bytesRead;
}
await file.close();
