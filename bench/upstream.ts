import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { upstreamLink } from '../test/helpers/fake-kopokopo.js'

// A Kopo Kopo stand-in built for load, unlike test/helpers/fake-kopokopo.ts:
// every id exists, nothing is recorded, every answer is immediate. It runs in
// its own process so that neither the load generator nor the service pays for
// it, and so that "direct" and "through the service" hit the same server.

export const BENCH_CLIENT_ID = 'bench-client-id'
export const BENCH_CLIENT_SECRET = 'bench-client-secret-not-real'
export const BENCH_TOKEN = 'bench-token-not-real'
export const STATUS_PATH = '/api/v2/payment_links/'

const ID_MARK = '@@ID@@'
// Paid is a final state: with default TTLs every answer is cached for minutes,
// so the memory scenario fills the cache up to its bounds (the worst case).
const PAID_TEMPLATE = JSON.stringify(upstreamLink(ID_MARK, {
  paymentLink: {
    payment_link_status: 'Paid',
    expires_at: '2099-02-02T12:04:35.476+03:00',
    initiator_name: 'Bench Initiator',
    link: `/links/${ID_MARK}`
  }
})).split(ID_MARK)
const TOKEN_BODY = JSON.stringify({
  token_type: 'Bearer', expires_in: 3600, access_token: BENCH_TOKEN, created_at: '2026-01-01T00:00:00+03:00'
})
const JSON_HEADERS = { 'content-type': 'application/json' }

/** The documented upstream body for a Paid link with this id, as the bench upstream sends it. */
export function paidLinkBody (id: string): string {
  return PAID_TEMPLATE.join(id)
}

export async function startBenchUpstream (): Promise<{ url: string, server: Server }> {
  const server = createServer((req, res) => {
    const url = req.url ?? ''
    if (req.method === 'POST' && url === '/oauth/token') {
      req.resume()
      req.once('end', () => res.writeHead(200, JSON_HEADERS).end(TOKEN_BODY))
      return
    }
    if (req.method === 'GET' && url.startsWith(STATUS_PATH)) {
      if (req.headers.authorization !== `Bearer ${BENCH_TOKEN}`) {
        res.writeHead(401, JSON_HEADERS).end('{"error_code":401,"error_message":"Invalid access token"}')
        return
      }
      res.writeHead(200, JSON_HEADERS).end(paidLinkBody(decodeURIComponent(url.slice(STATUS_PATH.length))))
      return
    }
    res.writeHead(404).end()
  })
  // Longer than the service pool's idle time, so pooled sockets are not cut mid-run.
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

// Both servers under comparison log at warn, so neither writes a line per
// request; the rate limit is set out of reach so it never answers 429 (its
// per-request bookkeeping still runs, as in production).
export const BENCH_LOG_LEVEL = 'warn'
const OUT_OF_REACH = '1000000000'

/** The service's environment against the bench upstream: defaults unless overridden. */
export function serviceEnv (upstreamUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    K2_BASE_URL: upstreamUrl,
    K2_CLIENT_ID: BENCH_CLIENT_ID,
    K2_CLIENT_SECRET: BENCH_CLIENT_SECRET,
    LOG_LEVEL: BENCH_LOG_LEVEL,
    RATE_LIMIT_MAX: OUT_OF_REACH,
    METRICS_PORT: '0',
    ...overrides
  }
}
