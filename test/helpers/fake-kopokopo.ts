import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

// A Kopo Kopo stand-in on loopback whose faults each test controls. It records
// every request it receives; tests assert on the record afterwards (never
// inside the handler).

export const TEST_CLIENT_ID = 'test-client-id'
export const TEST_CLIENT_SECRET = 'test-client-secret-not-real'

export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: string
  /** The client's port: one per connection, so tests can count connections. */
  port: number
}

/** One scripted answer; fields combine (e.g. a delay then a 500). */
export interface Fault {
  status?: number
  body?: string
  headers?: Record<string, string>
  /** Milliseconds to wait before answering. */
  delayMs?: number
  /** Wait for this before answering: the test decides when the answer goes out. */
  until?: Promise<unknown>
  /** Destroy the socket without answering. */
  reset?: boolean
  /** Send headers and half the body, then destroy the socket. */
  truncate?: boolean
  /** Send headers, then one space every this many milliseconds, never finishing. */
  trickleMs?: number
  /** Send the body chunked, this many bytes a chunk. */
  chunkBytes?: number
}

const CRLF = Buffer.from('\r\n')

export type Call = 'token' | 'status'

export class FakeKopoKopo {
  url = ''
  readonly requests: RecordedRequest[] = []
  /** Upstream JSON documents by lowercase id. */
  readonly links = new Map<string, unknown>()
  tokenTtlSeconds = 3600
  readonly issued: string[] = []
  readonly #revoked = new Set<string>()
  readonly #queue: Record<Call, Fault[]> = { token: [], status: [] }
  readonly #always: Partial<Record<Call, Fault>> = {}
  readonly #waiters = new Set<() => void>()
  readonly #server = createServer((req, res) => { this.#handle(req, res).catch(() => res.destroy()) })

  async start (): Promise<this> {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
    return this
  }

  async close (): Promise<void> {
    this.#server.closeAllConnections()
    this.#server.close()
    await once(this.#server, 'close')
  }

  /** The next calls of this kind answer with these faults, in order. */
  enqueue (call: Call, ...faults: Fault[]): this {
    this.#queue[call].push(...faults)
    return this
  }

  /** Every call of this kind answers with this fault until cleared with undefined. */
  always (call: Call, fault: Fault | undefined): this {
    if (fault === undefined) delete this.#always[call]
    else this.#always[call] = fault
    return this
  }

  /** Makes Kopo Kopo reject a token it issued (as if revoked early). */
  revoke (token: string): void {
    this.#revoked.add(token)
  }

  /**
   * Runs `requests` while every answer to `call` (with `fault`, if given) is
   * held back until `count` such calls have arrived, then lets them answer and
   * returns what the requests got: requests that overlap for sure, without a
   * real delay.
   */
  async holdUntilReceived<T> (call: Call, count: number, requests: () => Array<Promise<T>>, fault: Omit<Fault, 'until'> = {}): Promise<T[]> {
    const held = gate()
    this.always(call, { ...fault, until: held.promise })
    const pending = requests()
    await this.received(call, count)
    held.open()
    this.always(call, undefined)
    return await Promise.all(pending)
  }

  /** Resolves once `count` calls of this kind have arrived (answered or not). */
  async received (call: Call, count: number): Promise<void> {
    while (this.calls(call).length < count) {
      await new Promise<void>(resolve => this.#waiters.add(resolve))
    }
  }

  calls (call: Call): RecordedRequest[] {
    return this.requests.filter(r => call === 'token' ? r.path === '/oauth/token' : r.path.startsWith('/api/v2/payment_links/'))
  }

  async #handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const record = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
      port: req.socket.remotePort ?? 0
    }
    this.requests.push(record)
    for (const wake of this.#waiters) wake()
    this.#waiters.clear()
    const call: Call | null = record.path === '/oauth/token' ? 'token' : record.path.startsWith('/api/v2/payment_links/') ? 'status' : null
    const fault = call === null ? undefined : this.#queue[call].shift() ?? this.#always[call]
    if (fault?.delayMs !== undefined) await new Promise(resolve => setTimeout(resolve, fault.delayMs))
    if (fault?.until !== undefined) await fault.until
    if (fault?.reset === true) {
      req.socket.destroy()
      return
    }
    const answer = fault?.status !== undefined
      ? { status: fault.status, body: fault.body ?? '', headers: fault.headers ?? {} }
      : call === 'token' ? this.#token(record) : call === 'status' ? this.#status(record) : { status: 404, body: '', headers: {} }
    const headers = { 'content-type': 'application/json', ...answer.headers, ...fault?.headers }
    if (fault?.trickleMs !== undefined) {
      res.writeHead(answer.status, headers)
      const drip = setInterval(() => res.write(' '), fault.trickleMs)
      res.once('close', () => clearInterval(drip))
      return
    }
    if (fault?.truncate === true) {
      res.writeHead(answer.status, { ...headers, 'content-length': String(Buffer.byteLength(answer.body)) })
      res.write(answer.body.slice(0, Math.floor(answer.body.length / 2)))
      setImmediate(() => req.socket.destroy())
      return
    }
    if (fault?.chunkBytes !== undefined) {
      // Framed here and written at once, then the connection closed: through
      // Node's response, a write per chunk took seconds for a megabyte in bytes.
      const head = Object.entries({ ...headers, 'transfer-encoding': 'chunked', connection: 'close' })
        .map(([name, value]) => `${name}: ${value}\r\n`).join('')
      req.socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${answer.status} X\r\n${head}\r\n`), chunked(Buffer.from(answer.body), fault.chunkBytes)]))
      return
    }
    res.writeHead(answer.status, headers)
    res.end(answer.body)
  }

  #token (req: RecordedRequest) {
    const form = new URLSearchParams(req.body)
    if (form.get('client_id') !== TEST_CLIENT_ID || form.get('client_secret') !== TEST_CLIENT_SECRET) {
      return { status: 401, body: JSON.stringify({ error: 'invalid_client', error_description: 'Client authentication failed' }), headers: {} }
    }
    const token = `test-token-${this.issued.length + 1}`
    this.issued.push(token)
    return {
      status: 200,
      body: JSON.stringify({ token_type: 'Bearer', expires_in: this.tokenTtlSeconds, access_token: token, created_at: '2026-01-01T00:00:00+03:00' }),
      headers: {}
    }
  }

  #status (req: RecordedRequest) {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (token === undefined || !this.issued.includes(token) || this.#revoked.has(token)) {
      return { status: 401, body: JSON.stringify({ error_code: 401, error_message: 'Invalid access token' }), headers: {} }
    }
    const id = decodeURIComponent(req.path.slice('/api/v2/payment_links/'.length)).toLowerCase()
    const link = this.links.get(id)
    if (link === undefined) return { status: 404, body: '<html>Not found</html>', headers: { 'content-type': 'text/html' } }
    return { status: 200, body: JSON.stringify(link), headers: {} }
  }
}

export interface LinkOverrides {
  status?: string
  amount?: string | number
  paymentLink?: unknown
  errors?: unknown
  [key: string]: unknown
}

/** An upstream payment link document in the documented shape, including the fields the service must strip. */
export function upstreamLink (id: string, overrides: LinkOverrides = {}): unknown {
  const { status = 'Processed', amount = '20000', paymentLink, errors = null, ...rest } = overrides
  return {
    data: {
      id,
      type: 'payment_link',
      attributes: {
        status,
        created_at: '2026-01-26T12:04:35.444+03:00',
        till_name: 'Test Till',
        till_number: '000111',
        payment_reference: 'TEST-REF-1',
        currency: 'KES',
        amount,
        note: 'Test note',
        payment_link: paymentLink === undefined
          ? {
              payment_link_status: 'Active',
              expires_at: '2099-02-02T12:04:35.476+03:00',
              initiator_name: 'Test Initiator',
              link: `/links/${id}`
            }
          : paymentLink,
        errors,
        metadata: { customer_phone: '+254700000000' },
        _links: {
          callback_url: 'https://merchant.test/callback',
          self: `https://upstream.test/api/v2/payment_links/${id}`
        },
        ...rest
      }
    }
  }
}

/** A promise the test resolves when it chooses: hand it to a Fault's `until` to hold an answer back. */
export function gate (): { promise: Promise<void>, open: () => void } {
  let open = (): void => {}
  const promise = new Promise<void>(resolve => { open = resolve })
  return { promise, open }
}

/** `body` in chunked transfer coding, `size` bytes a chunk. */
function chunked (body: Buffer, size: number): Buffer {
  const parts: Buffer[] = []
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size)
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, CRLF)
  }
  parts.push(Buffer.from('0\r\n\r\n'))
  return Buffer.concat(parts)
}
