import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import { etagFor } from '../etag.js'
import {
  AppError, LinkNotFoundError, UpstreamAuthError, UpstreamBadResponseError, UpstreamBusyError, UpstreamPausedError, UpstreamTimeoutError,
  UpstreamUnavailableError, isUpstreamOutage
} from '../errors.js'
import type { KopoKopoClient, PaymentLinkLookup } from '../kopokopo/client.js'
import { withDeadline } from '../kopokopo/deadline.js'
import type { CacheEntry, FoundEntry, LinkCache } from './cache.js'
import { InFlight } from './in-flight.js'
import { toPaymentLink } from './map.js'
import { FINAL_STATES } from './schema.js'

export type CacheEvent = 'hit' | 'miss' | 'stale' | 'collapsed'

/** What one upstream exchange looked like, for the access log. */
export interface UpstreamTrace {
  status: number | undefined
  durationMs: number
}

export interface HitAnswer { entry: FoundEntry, maxAge: number, cacheStatus: string }
export type LinkAnswer =
  | HitAnswer & { upstream?: UpstreamTrace }
  | { error: Error, cacheStatus: string, upstream?: UpstreamTrace }

// `at`: when the entry was made, which is when every request waiting on the call gets it.
type Flight = { entry: CacheEntry, stored: boolean, upstream: UpstreamTrace, at: number } | { error: Error, upstream?: UpstreamTrace }

export interface PaymentLinkServiceOptions {
  client: KopoKopoClient
  cache: LinkCache
  clock: Clock
  config: Config['cache'] & { timeoutMs: number, linkBaseUrl: string }
  onCacheEvent?: (event: CacheEvent) => void
}

// RFC 9211 Cache-Status, naming this service as the cache.
const CACHE_NAME = 'k2-bff'

/**
 * Answers from cache when fresh; otherwise one upstream call per id at a time,
 * however many requests wait for it. When Kopo Kopo fails, a recently expired
 * answer is better for a polling checkout page than an error.
 */
export class PaymentLinkService {
  readonly #o: PaymentLinkServiceOptions
  readonly #inflight = new InFlight<Promise<Flight>>()

  constructor (options: PaymentLinkServiceOptions) {
    this.#o = options
  }

  /**
   * `id` must already be a validated, lowercase UUID. A fresh cache hit is
   * answered synchronously: polling pages make hits the common case, and they
   * need no promise.
   */
  get (id: string): LinkAnswer | Promise<LinkAnswer> {
    const cached = this.#o.cache.get(id)
    const now = this.#o.clock.now()
    if (cached !== undefined && now < cached.freshUntil) {
      this.#o.onCacheEvent?.('hit')
      return cached.found ? hitAnswer(cached, now) : { error: new LinkNotFoundError(id), cacheStatus: hitStatus(secondsLeft(cached, now)) }
    }
    return this.#forward(id, cached)
  }

  /**
   * The answer for `id` when it is cached, fresh and found; undefined
   * otherwise, for any string. Leaves no trace, not even in the cache's
   * order of use: a request may still be refused (its API key, its budget),
   * and Fastify's path would then not have looked. The caller reports the
   * answer once it sends it (served), and leaves every other case to get().
   */
  fresh (id: string): HitAnswer | undefined {
    const cached = this.#o.cache.peek(id)
    const now = this.#o.clock.now()
    return cached?.found === true && now < cached.freshUntil ? hitAnswer(cached, now) : undefined
  }

  /** A fresh answer from fresh(id) was sent: the entry was used, and the hit counts. */
  served (id: string): void {
    this.#o.cache.get(id)
    this.#o.onCacheEvent?.('hit')
  }

  async #forward (id: string, cached: CacheEntry | undefined): Promise<LinkAnswer> {
    const { clock, onCacheEvent } = this.#o
    let flight = this.#inflight.get(id)
    const collapsed = flight !== undefined
    if (flight === undefined) {
      flight = this.#fetch(id).finally(() => this.#inflight.delete(id))
      this.#inflight.set(id, flight)
    }
    const result = await flight
    // Judged now, not when the request came: the upstream may have taken
    // most of the deadline to answer or fail.
    const now = clock.now()

    if ('error' in result && cached?.found === true && now < cached.staleUntil && isUpstreamOutage(result.error)) {
      // One result per lookup: served stale rather than missed.
      onCacheEvent?.('stale')
      // Whole seconds past its TTL, rounded up: a stale answer's ttl is always
      // negative (RFC 9211), even in the millisecond it went stale.
      const age = Math.max(1, Math.ceil((now - cached.freshUntil) / 1000))
      // Why it stands in: what Kopo Kopo answered (fwd-status), why no answer
      // came (detail=timeout), or what held the call back (detail=circuit-open:
      // then no call went out, though `fwd=stale` marks every stale answer).
      // An outage of minutes and a passing 503 then read differently.
      const cacheStatus = `${CACHE_NAME}; fwd=stale; ttl=${-age}; ${forwardDetail(result.error)}`
      return { entry: cached, maxAge: 0, cacheStatus, upstream: result.upstream }
    }
    // `fwd` says the request went forward (RFC 9211); one held back (isHeldBack) did not.
    // Its status call may have gone out before a token call was held back (after a 401): then it did.
    const held = 'error' in result && isHeldBack(result.error) && result.upstream === undefined
    // Collapsed onto a call, as Cache-Status says: one held back joined none.
    onCacheEvent?.(collapsed && !held ? 'collapsed' : 'miss')
    if ('error' in result) {
      const detail = forwardDetail(result.error)
      return {
        error: result.error,
        cacheStatus: held ? `${CACHE_NAME}; ${detail}` : join(`${CACHE_NAME}; fwd=miss; ${detail}`, collapsed ? 'collapsed' : ''),
        upstream: result.upstream
      }
    }

    const how = collapsed ? 'collapsed' : result.stored ? 'stored' : ''
    const { entry } = result
    if (!entry.found) {
      return { error: new LinkNotFoundError(id), cacheStatus: join(`${CACHE_NAME}; fwd=miss; fwd-status=404`, how), upstream: result.upstream }
    }
    // Whole seconds rounded down, as for a hit: a browser must not keep the
    // answer past the moment this service would ask again (nor, for an active
    // link, past its expiry, which bounds freshUntil). Counted from when the
    // entry was made: a real clock has moved a few microseconds since, which
    // must not make a 3 s TTL a max-age of 2.
    const maxAge = Math.max(0, Math.floor((entry.freshUntil - result.at) / 1000))
    return { entry, maxAge, cacheStatus: join(`${CACHE_NAME}; fwd=miss`, how), upstream: result.upstream }
  }

  async #fetch (id: string): Promise<Flight> {
    return await withDeadline(this.#o.config.timeoutMs, async deadline => {
      try {
        return this.#keep(id, await this.#o.client.getPaymentLink(id, deadline))
      } catch (error) {
        const status = error instanceof AppError ? error.upstreamStatus : undefined
        return {
          error: error as Error,
          // No status call went out (the circuit was open, or the token could not be had).
          ...(deadline.attempts === 0 ? {} : { upstream: { status, durationMs: deadline.timeoutMs - deadline.remaining() } })
        }
      }
    })
  }

  /** The answer as a cache entry, serialized once and stored for its TTL. */
  #keep (id: string, lookup: PaymentLinkLookup): Flight {
    const { cache, clock, config } = this.#o
    const upstream = { status: lookup.upstream.status, durationMs: lookup.upstream.durationMs }
    const now = clock.now()
    if (!lookup.found) {
      const entry = { found: false as const, freshUntil: now + config.notFoundTtlMs, staleUntil: now + config.notFoundTtlMs }
      return { entry, stored: store(cache, id, entry, config.notFoundTtlMs), upstream, at: now }
    }
    const { link, expiry } = toPaymentLink(lookup.link, config.linkBaseUrl, now)
    let ttl = FINAL_STATES.has(link.state) ? config.finalTtlMs : config.ttlMs
    let staleUntil = Number.POSITIVE_INFINITY
    // One that cannot be told is none (as for the state, see map.ts).
    if (link.state === 'active' && !Number.isNaN(expiry)) {
      // Stop serving `active` the moment the link expires, even stale: a
      // checkout must not offer a link that can no longer be paid.
      ttl = Math.max(0, Math.min(ttl, expiry - now))
      staleUntil = expiry
    }
    const json = JSON.stringify(link)
    // Its own allocation: Buffer.from would slice Node's shared 8 KiB pool,
    // and a cached slice keeps its whole slab alive for the entry's lifetime.
    const body = Buffer.allocUnsafeSlow(Buffer.byteLength(json))
    body.write(json)
    const entry: FoundEntry = {
      found: true,
      body,
      etag: etagFor(body),
      freshUntil: now + ttl,
      staleUntil: Math.min(staleUntil, now + ttl + config.staleIfErrorMs)
    }
    return { entry, stored: store(cache, id, entry, ttl), upstream, at: now }
  }
}

function store (cache: LinkCache, id: string, entry: CacheEntry, ttl: number): boolean {
  // A TTL of 0 turns caching off for that kind of answer. The answer still
  // replaces what was kept: an older one must not stand in for it later.
  if (ttl <= 0) {
    cache.delete(id)
    return false
  }
  return cache.set(id, entry)
}

function hitAnswer (entry: FoundEntry, now: number): HitAnswer {
  const ttl = secondsLeft(entry, now)
  return { entry, maxAge: ttl, cacheStatus: hitStatus(ttl) }
}

function hitStatus (ttl: number): string {
  return `${CACHE_NAME}; hit; ttl=${ttl}`
}

// Whole seconds, rounded down: never promise freshness past freshUntil.
function secondsLeft (entry: CacheEntry, now: number): number {
  return Math.floor((entry.freshUntil - now) / 1000)
}

function join (base: string, param: string): string {
  return param === '' ? base : `${base}; ${param}`
}

// Errors of a request for which no call went out (AppError.forwarded).
function isHeldBack (error: Error): boolean {
  return error instanceof AppError && !error.forwarded
}

function forwardDetail (error: Error): string {
  if (error instanceof UpstreamAuthError && !error.forwarded) return 'detail=credentials-refused'
  if (error instanceof AppError && error.upstreamStatus !== undefined) return `fwd-status=${error.upstreamStatus}`
  if (error instanceof UpstreamTimeoutError) return 'detail=timeout'
  if (error instanceof UpstreamPausedError) return 'detail=paused'
  if (error instanceof UpstreamBusyError) return 'detail=busy'
  if (error instanceof UpstreamUnavailableError) return 'detail=circuit-open'
  // A bug of ours is not a connection error; say only that there was one.
  return error instanceof UpstreamBadResponseError ? 'detail=connection-error' : 'detail=error'
}
