// The errors an upload ends with.

/** A refusal or fault reported by the server, or a protocol breach it made. */
export class FerryError extends Error {
  /**
   * @param {string} message for a person
   * @param {{status?: number, code?: string, body?: object}} [details]
   */
  constructor(message, details = {}) {
    super(message);
    this.name = 'FerryError';
    this.status = details.status ?? 0;
    this.code = details.code ?? 'client-error';
    this.body = details.body ?? null;
  }
}

/** The upload was stopped by `abort()`. */
export class AbortedError extends Error {
  constructor() {
    super('the upload was aborted');
    this.name = 'AbortError';
  }
}
