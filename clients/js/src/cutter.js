// A way to cut requests in flight. Browsers and Node have AbortController;
// a mini-program's JavaScript runtime has none, and its adapters only need
// `aborted` and an 'abort' listener, which this stand-in gives.

/**
 * A new controller: the platform's AbortController when it has one. (Not
 * `globalThis.AbortController`: older mini-program engines lack globalThis.)
 */
export function newCutter(Controller = typeof AbortController === 'function' ? AbortController : undefined) {
  return Controller ? new Controller() : new Cutter();
}

/** An AbortController's shape, enough for the mini-program adapter. */
export class Cutter {
  constructor() {
    const listeners = new Set();
    this.signal = {
      aborted: false,
      addEventListener: (type, listener) => type === 'abort' && listeners.add(listener),
      removeEventListener: (type, listener) => listeners.delete(listener),
    };
    this.listeners = listeners;
  }

  abort() {
    if (this.signal.aborted) return;
    this.signal.aborted = true;
    for (const listener of [...this.listeners]) listener();
    this.listeners.clear();
  }
}
