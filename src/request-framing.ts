import type { IncomingMessage } from 'node:http'

// What a request's head says before any route is chosen; judged alike by
// app.ts's hooks and by the cache-hit fast path (payment-links/fast-path.ts).

/** Whether the request announces a body (no route takes one). */
export function announcesBody (req: Pick<IncomingMessage, 'headers'>): boolean {
  const length = req.headers['content-length']
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined
}

// RFC 9112 §3.2: a host and an optional port (RFC 3986's uri-host, without
// userinfo), or nothing (a target without an authority). The service reads no
// Host itself, but a value a proxy in front may read another way (or a second
// Host line, which Node's parser leaves out of `headers`) is how requests are
// smuggled past one. That is an IP literal (an IPv6 address, with RFC 6874's
// zone id, or IPvFuture), or a name or IPv4 address (escapes allowed, but not
// an escaped NUL).
const HOST_VALUE = /^(?:\[(?:[\dA-Fa-f:.]+(?:%25[\w.~-]+)?|v[\dA-Fa-f]+\.[\w.~!$&'()*+,;=:-]+)\]|(?:[\w.~!$&'()*+,;=-]|%(?!00)[\dA-Fa-f]{2})*)(?::\d*)?$/

/**
 * What is wrong with a request's Host, if anything (RFC 9112 §3.2): an
 * HTTP/1.1 request must send one (HTTP/1.0 need not), no request may send two,
 * and its value must be a host and an optional port.
 */
export function hostFault (req: Pick<IncomingMessage, 'headers' | 'httpVersion' | 'rawHeaders'>): 'missing' | 'invalid' | undefined {
  const host = req.headers.host
  if (host === undefined) return req.httpVersion === '1.1' ? 'missing' : undefined
  return HOST_VALUE.test(host) && hostLines(req.rawHeaders) === 1 ? undefined : 'invalid'
}

/** How many Host lines the head has: Node keeps the first one in `headers`. */
function hostLines (rawHeaders: string[]): number {
  let lines = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]
    if (name?.length === 4 && name.toLowerCase() === 'host') lines++
  }
  return lines
}
