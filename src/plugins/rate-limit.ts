import { createRequire } from 'node:module'
import rateLimit, { normalizeIP, type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { MAX_CLIENT_LENGTH } from '../client-address.js'
import { RateLimitedError } from '../errors.js'
import { ownCopy } from '../own-copy.js'
import { targetPath } from '../request-target.js'

// The plugin's own in-memory store, made here so that the cache-hit fast path
// (payment-links/fast-path.ts) draws on the very budget the plugin keeps.
// The package does not export it (nor type it), hence the require.
const LocalStore = createRequire(import.meta.url)('@fastify/rate-limit/store/LocalStore.js') as
  new (continueExceeding: boolean, exponentialBackoff: boolean, clients: number) => FastifyRateLimitStore

/** What is left of a client's budget after one more request. */
export interface Budget {
  limit: string
  remaining: string
  reset: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts one request against the budget of `key` (budgetKey) and returns
     * the X-RateLimit-* values, as the plugin would set them; undefined when
     * the budget is spent, for the plugin to refuse the request.
     */
    takeBudget: (key: string) => Budget | undefined
  }
}

export interface RateLimitOptions {
  max: number
  windowMs: number
  /** Budgets kept at most, an LRU: a client forgotten beyond it starts afresh. */
  clients: number
  onExceeded?: () => void
}

// Probes, the API document and its viewer never count against a budget, nor
// CORS preflights (a browser sends one before it may send the request itself).
const EXEMPT = /^\/(health\/|openapi\.json$|docs(\/|$))/

/** Whether a request target is on a path exempt from the budget (a wrong method there included). */
export function isRateLimitExempt (url: string): boolean {
  return EXEMPT.test(targetPath(url))
}

// The headers @fastify/rate-limit sets, as numbers.
const NUMERIC_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']

/**
 * Per-client budget: by API key when a valid one was presented, otherwise by
 * IP: request.ip, which honours X-Forwarded-For only from proxies trusted
 * through TRUST_PROXY, so a spoofed header changes nothing (client-address.ts).
 */
export default fp(async function rateLimitPlugin (app: FastifyInstance, options: RateLimitOptions) {
  // Exempt routes are marked as they are declared (before the rate-limit plugin
  // sees them), rather than by an allowList check on every request.
  app.addHook('onRoute', route => {
    if (EXEMPT.test(route.url) || route.method === 'OPTIONS') route.config = { ...route.config, rateLimit: false }
  })
  const { max, windowMs, clients } = options
  const store = new LocalStore(false, false, clients)
  const limit = max.toFixed(0)
  app.decorate('takeBudget', (key: string) => {
    // The in-memory store answers at once; a budget not known now is not taken.
    let taken: { current: number, ttl: number } | undefined
    store.incr(key, (_error, result) => { taken = result }, windowMs, max)
    if (taken === undefined || taken.current > max) return undefined
    return { limit, remaining: (max - taken.current).toFixed(0), reset: Math.ceil(taken.ttl / 1000).toFixed(0) }
  })
  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow: windowMs,
    store: function sharedStore () { return store } as unknown as FastifyRateLimitStoreCtor,
    keyGenerator: (request: FastifyRequest) => budgetKey(request.ip, request.apiKeyId),
    onExceeded: () => options.onExceeded?.(),
    errorResponseBuilder: (_request, context) => new RateLimitedError(Math.max(1, Math.ceil(context.ttl / 1000)))
  })
  // @fastify/rate-limit sets its headers as numbers, which Node turns into text
  // through V8's number-to-string conversion; V8 keeps those results in a cache
  // that lives in the old generation. Under the benchmark's miss load (3,000
  // requests/s, a new X-RateLimit-Remaining on each) these headers left about
  // 95 KB/s of garbage there, close to half of all, freed only by full GCs.
  // toFixed(0) writes the same digits without that cache; making the numbers
  // small integers (`| 0`) did not help (A/B, see the README's miss path).
  app.addHook('onSend', (_request, reply, payload, done) => {
    for (const name of NUMERIC_HEADERS) {
      const value = reply.getHeader(name)
      if (typeof value === 'number') reply.header(name, value.toFixed(0))
    }
    done(null, payload)
  })
}, { name: 'rate-limit', dependencies: ['api-keys'] })

/**
 * Whose budget a request draws on. IPv6 clients are keyed by their /64, as
 * @fastify/rate-limit does by default: one host usually holds a whole prefix.
 */
export function budgetKey (client: string | undefined, apiKeyId: string | null): string {
  if (apiKeyId !== null) return `key:${apiKeyId}`
  let address = client ?? ''
  if (address.length > MAX_CLIENT_LENGTH) address = address.slice(0, MAX_CLIENT_LENGTH)
  // An address from X-Forwarded-For is cut from the header: with TRUST_PROXY=true,
  // 10,000 budgets keyed by what clients wrote into 15 KB headers kept them
  // all and ran the heap out, cut to 64 characters or not. V8 copies a cut
  // shorter than 13 characters (an IPv4 address): only longer ones need it.
  if (address.length >= SHORTEST_VIEW) address = ownCopy(address)
  // Run on every cache hit: the pattern only where a port may be.
  if (address.includes(':')) address = withoutPort(address)
  return `ip:${normalizeIP(address)}`
}

// V8's SlicedString::kMinLength: a shorter substring is a copy of its own.
const SHORTEST_VIEW = 13

// Some proxies (Azure's Application Gateway among them) write the client's
// source port into X-Forwarded-For: `198.51.100.7:51234`, `[2001:db8::1]:443`.
// Keyed as written, each of a client's connections would get a budget of its own.
const WITH_PORT = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}|\[([\da-f:.]+)\](?::\d{1,5})?)$/i

function withoutPort (client: string): string {
  const match = WITH_PORT.exec(client)
  return match?.[1] ?? match?.[2] ?? client
}
