// The chunk layout a session describes, as pure functions.

/** Indices of chunks in [0, count) that `received` (inclusive index ranges) lacks. */
export function missingChunks(count, received) {
  const missing = [];
  let next = 0;
  for (const [first, last] of received) {
    for (let i = next; i < Math.min(first, count); i++) missing.push(i);
    next = Math.max(next, last + 1);
  }
  for (let i = next; i < count; i++) missing.push(i);
  return missing;
}

/** The byte span [start, end) of chunk `index`. */
export function chunkSpan(size, chunkSize, index) {
  const start = index * chunkSize;
  return [start, Math.min(size, start + chunkSize)];
}

/** A reason the session cannot describe a `size`-byte file, or null when it does. */
export function layoutProblem(upload, sha256, size) {
  if (upload.sha256 !== sha256) return `the server answered for ${upload.sha256}, not ${sha256}`;
  if (upload.size !== size) return `the server holds a session of ${upload.size} bytes, not ${size}`;
  if (!(upload.chunk_size > 0) && size > 0) return 'the server answered no chunk size';
  const count = size === 0 ? 0 : Math.ceil(size / upload.chunk_size);
  if (upload.chunk_count !== count) return `the server counts ${upload.chunk_count} chunks, not ${count}`;
  return null;
}

/** Most ranges and bytes a proof challenge may ask for. */
export const PROOF_LIMITS = Object.freeze({ ranges: 64, bytes: 1 << 20 });

/** A reason to refuse a proof challenge for a `size`-byte file, or null when it is fair. */
export function challengeProblem(challenge, size) {
  const ranges = challenge?.ranges;
  if (!Array.isArray(ranges)) return 'the proof challenge has no ranges';
  if (ranges.length > PROOF_LIMITS.ranges) return `the proof challenge asks for ${ranges.length} ranges`;
  let total = 0;
  for (const [first, last] of ranges) {
    if (!(first <= last) || last >= size) return `the proof challenge asks for bytes ${first}-${last} of ${size}`;
    total += last - first + 1;
  }
  if (total > PROOF_LIMITS.bytes) return `the proof challenge asks for ${total} bytes`;
  return null;
}
