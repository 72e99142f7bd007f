// Rate and time left, from the bytes done over the last few seconds.

const WINDOW_MS = 5000;

/** Measures how fast a count of bytes grows. */
export class RateMeter {
  constructor(now = Date.now()) {
    this.samples = [[now, 0]];
  }

  /** Records that `bytes` are done at `now`; returns bytes per second. */
  record(bytes, now = Date.now()) {
    this.samples.push([now, bytes]);
    while (this.samples.length > 2 && now - this.samples[1][0] >= WINDOW_MS) this.samples.shift();
    const [then, before] = this.samples[0];
    const elapsed = (now - then) / 1000;
    return elapsed > 0 ? Math.max(0, (bytes - before) / elapsed) : 0;
  }
}

/** Seconds left at `rate` bytes per second, or null while the rate is unknown. */
export function secondsLeft(done, total, rate) {
  if (done >= total) return 0;
  return rate > 0 ? (total - done) / rate : null;
}
