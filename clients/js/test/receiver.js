// A webhook receiver for the tests: a real HTTP server on loopback that
// records every request and checks its Standard Webhooks signature with
// node:crypto, as an app's backend would.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

/** The secret test servers sign with: `whsec_` and base64 of 24 bytes. */
export const WEBHOOK_SECRET = 'whsec_dGhlIHRlc3Qgd2ViaG9vayBzZWNyZXQh';

/** Whether `headers` sign `body` with `secret`, as the Standard Webhooks specification says. */
export function verifySignature(secret, headers, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`;
  const expected = Buffer.from(`v1,${createHmac('sha256', key).update(signed).digest('base64')}`);
  return (headers['webhook-signature'] ?? '').split(' ').some((signature) => {
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** Starts a receiver answering 200; `events` holds every verified event, `waitFor` waits on them. */
export async function startReceiver() {
  const events = [];
  const waiters = new Set();
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const verified = verifySignature(WEBHOOK_SECRET, request.headers, body);
      events.push({ verified, id: request.headers['webhook-id'], event: JSON.parse(body) });
      for (const waiter of waiters) waiter();
      response.writeHead(200).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/hook`,
    events,
    /** Resolves with the events once `enough(events)` holds (within 20 s). */
    waitFor(enough) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!enough(events)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(events);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the receiver got only ${JSON.stringify(events)}`));
        }, 20_000);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
