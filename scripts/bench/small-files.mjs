// Many small files from CLIENTS concurrent clients, each file a single
// request: ferry's one-request upload (PUT /v1/files/{sha256}) or tus's
// creation-with-upload. Prints the files per second.
//   node small-files.mjs ferry|tus BASE_URL COUNT SIZE_KIB CLIENTS
import { createHash, randomBytes } from "node:crypto";

const [kind, base, count, sizeKib, clients] = process.argv.slice(2);
const files = Array.from({ length: Number(count) }, () => randomBytes(Number(sizeKib) << 10));
const requests = files.map((body) =>
  kind === "ferry"
    ? {
        url: `${base}/v1/files/${createHash("sha256").update(body).digest("hex")}`,
        init: { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body },
        expect: [200, 201],
      }
    : {
        url: `${base}/files`,
        init: {
          method: "POST",
          headers: {
            "Tus-Resumable": "1.0.0",
            "Upload-Length": String(body.length),
            "Content-Type": "application/offset+octet-stream",
          },
          body,
        },
        expect: [201],
      },
);

let next = 0;
async function client() {
  while (next < requests.length) {
    const { url, init, expect } = requests[next++];
    const answer = await fetch(url, init);
    await answer.arrayBuffer();
    if (!expect.includes(answer.status)) throw new Error(`${url} answered ${answer.status}`);
  }
}
const start = process.hrtime.bigint();
await Promise.all(Array.from({ length: Number(clients) }, client));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log((requests.length / seconds).toFixed(0));
