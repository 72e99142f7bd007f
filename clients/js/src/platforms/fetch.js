// A request through the Fetch API, answered in the shape every adapter shares.

/** Sends `request` with `fetch`; resolves with `{status, header(name), body}`. */
export async function fetchAnswer(fetch, { method, url, headers, body, signal }) {
  const response = await fetch(url, { method, headers, body, signal });
  const text = await response.text();
  return { status: response.status, header: (name) => response.headers.get(name), body: text };
}
