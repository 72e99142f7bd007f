// Builds a session of COUNT chunks of CHUNK bytes and sends every other chunk
// (the even indexes), CLIENTS at a time. Prints the session's sha256.
//   node sparse-session.mjs BASE_URL COUNT CHUNK CLIENTS
import { createHash, randomBytes } from "node:crypto";

const [base, count, chunk, clients] = process.argv.slice(2).map((v, i) => (i ? Number(v) : v));
const piece = randomBytes(chunk);
const whole = createHash("sha256");
for (let i = 0; i < count; i++) whole.update(piece);
const sha256 = whole.digest("hex");
const created = await fetch(`${base}/v1/uploads`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ sha256, size: count * chunk, chunk_size: chunk }),
});
if (created.status !== 201) throw new Error(`create answered ${created.status}: ${await created.text()}`);
let next = 0;
async function client() {
  while (next < count) {
    const index = next;
    next += 2;
    const answer = await fetch(`${base}/v1/uploads/${sha256}/chunks/${index}`, { method: "PUT", body: piece });
    await answer.arrayBuffer();
    if (answer.status !== 200) throw new Error(`chunk ${index} answered ${answer.status}`);
  }
}
await Promise.all(Array.from({ length: clients }, client));
console.log(sha256);
