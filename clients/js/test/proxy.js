// A small HTTP proxy in front of ferryd that counts what passes and can
// delay, refuse or cut requests, as a flaky network or a busy server would.

import http from 'node:http';

/**
 * Starts a proxy to `target`. `decide(request, record)` may answer
 * `{status, headers, body}` (sent instead of forwarding), 'reset' (the
 * connection is cut), a promise of either (to hold the request), or nothing
 * (forwarded).
 */
export async function startProxy(target, decide = () => undefined) {
  const upstream = new URL(target);
  const proxy = {
    url: '',
    requests: [],
    open: 0,
    maxOpen: 0,
    /** The indices of chunks that reached ferryd and were answered 200. */
    storedChunks: [],
    decide,
    idle: Promise.resolve(),
  };
  let settleIdle = null;
  const server = http.createServer(async (req, res) => {
    proxy.open += 1;
    proxy.maxOpen = Math.max(proxy.maxOpen, proxy.open);
    const chunk = /\/chunks\/(\d+)$/.exec(req.url);
    const record = { method: req.method, url: req.url, chunk: chunk ? Number(chunk[1]) : null, at: Date.now() };
    proxy.requests.push(record);
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      proxy.open -= 1;
      if (proxy.open === 0 && settleIdle) settleIdle();
      proxy.check();
    };
    const decision = await proxy.decide(record, proxy);
    if (decision === 'reset') {
      req.socket.destroy();
      return done();
    }
    if (decision) {
      res.on('close', done);
      req.resume();
      return res.writeHead(decision.status, decision.headers ?? {}).end(decision.body ?? '');
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        record.status = answer.statusCode;
        if (record.chunk !== null && answer.statusCode === 200) {
          proxy.storedChunks.push(record.chunk);
          proxy.check();
        }
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    forward.on('close', done);
    req.on('close', () => {
      if (!req.complete) forward.destroy();
    });
    req.pipe(forward);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  /** Resolves once no request is open, ferryd's side included. */
  proxy.whenIdle = () =>
    proxy.open === 0 ? Promise.resolve() : new Promise((resolve) => (settleIdle = resolve));
  const watchers = [];
  /** Resolves once `holds(proxy)` is true, checked whenever a request ends or a chunk is stored. */
  proxy.until = (holds) =>
    holds(proxy) ? Promise.resolve() : new Promise((resolve) => watchers.push({ holds, resolve }));
  proxy.check = () => {
    for (const watcher of [...watchers]) {
      if (watcher.holds(proxy)) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve();
      }
    }
  };
  proxy.chunkRequests = () => proxy.requests.filter((r) => r.chunk !== null);
  proxy.stop = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  };
  return proxy;
}
