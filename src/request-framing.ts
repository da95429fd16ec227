import type { IncomingMessage } from 'node:http'

// What a request's head says before any route is chosen; judged alike by
// app.ts's hooks and by the cache-hit fast path (payment-links/fast-path.ts).

/** Whether the request announces a body (no route takes one). */
export function announcesBody (req: Pick<IncomingMessage, 'headers'>): boolean {
  const length = req.headers['content-length']
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined
}

/** An HTTP/1.1 request must name its Host (RFC 9112 §3.2); HTTP/1.0 need not. */
export function lacksHost (req: Pick<IncomingMessage, 'headers' | 'httpVersion'>): boolean {
  return req.headers.host === undefined && req.httpVersion === '1.1'
}
