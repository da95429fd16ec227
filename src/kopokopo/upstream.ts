import type { IncomingHttpHeaders } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { Clock, Sleep } from '../clock.js'
import { UpstreamBadResponseError, UpstreamBusyError, UpstreamPausedError, UpstreamTimeoutError, UpstreamUnavailableError } from '../errors.js'
import { CircuitOpenError, type CircuitBreaker, type CircuitTicket } from './circuit-breaker.js'
import { CallTimes } from './call-times.js'
import { within, type Deadline } from './deadline.js'
import { backoffMs, clientRetryAfterS, MAX_CLIENT_RETRY_AFTER_S, parseRetryAfterMs } from './retry.js'
import type { Slots } from './slots.js'

/** Kopo Kopo answers are small JSON documents; anything bigger is refused unread. */
export const MAX_BODY_BYTES = 1024 * 1024
// Where the copy of a body in several chunks starts; it doubles from there.
const MIN_COPY_BYTES = 16 * 1024

// Listed as values, so the metrics can start every call/outcome series at 0.
export const UPSTREAM_CALLS = ['token', 'status'] as const
export const UPSTREAM_OUTCOMES = ['ok', 'not_found', 'unauthorized', 'client_error', 'server_error',
  'rate_limited', 'timeout', 'network_error', 'too_large'] as const
export type UpstreamCall = typeof UPSTREAM_CALLS[number]
export type UpstreamOutcome = typeof UPSTREAM_OUTCOMES[number]

export interface UpstreamResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  /** Milliseconds spent on the final attempt. */
  durationMs: number
}

export interface UpstreamRequest {
  method: 'GET' | 'POST'
  path: string
  headers: Record<string, string>
  body?: string
}

export interface UpstreamOptions {
  dispatcher: Dispatcher
  /** One for each of the dispatcher's connections: calls beyond them wait here, not in undici (slots.ts). */
  slots: Slots
  baseUrl: string
  retries: number
  breaker: CircuitBreaker
  clock: Clock
  sleep: Sleep
  random: () => number
  observe?: (call: UpstreamCall, outcome: UpstreamOutcome, seconds: number) => void
  /** A call refused before it waited for a connection it would not get in time. */
  onBusy?: () => void
}

// The longest pause a Retry-After imposes on every call: a longer one (or a
// date years away) is learned again from the next answer, a minute later.
const MAX_QUIET_MS = MAX_CLIENT_RETRY_AFTER_S * 1000

// Retried: the statuses Kopo Kopo (or a proxy in front of it) uses for
// passing trouble. Other 4xx are our request's fault and would fail again.
const RETRYABLE = new Set([429, 500, 502, 503, 504])

/**
 * Sends one logical request to Kopo Kopo: attempts with jittered backoff
 * inside the caller's deadline, each attempt gated and scored by the circuit
 * breaker. Resolves with the last answer (any status) or throws a typed error
 * when there is no answer worth reading.
 */
export class Upstream {
  readonly #o: UpstreamOptions
  // Until when Kopo Kopo asked not to be called (the Retry-After of a 429 or
  // 503): no request calls it before then, every call after the one that was
  // told counting against whatever limit it is enforcing.
  #quietUntil = 0
  readonly #times = new CallTimes()

  constructor (options: UpstreamOptions) {
    this.#o = options
  }

  async send (call: UpstreamCall, request: UpstreamRequest, deadline: Deadline): Promise<UpstreamResponse> {
    // Until when this request has waited on a Retry-After of its own.
    let waitedUntil = 0
    for (let attempt = 0; ; attempt++) {
      const result = await this.#attempt(call, request, deadline, waitedUntil)
      const retryable = result instanceof Error ? result.retryable : RETRYABLE.has(result.status)
      if (!retryable) return unwrap(result)

      const now = this.#o.clock.now()
      const status = result instanceof Error ? undefined : result.status
      const retryAfterMs = result instanceof Error ? undefined : parseRetryAfterMs(result.headers['retry-after'], now)
      // A 429, or a 503 that says when to come back: Kopo Kopo asks for quiet.
      const told = status === 429 || (status === 503 && retryAfterMs !== undefined)
      if (told && retryAfterMs !== undefined && retryAfterMs > 0) {
        this.#quietUntil = Math.max(this.#quietUntil, now + Math.min(retryAfterMs, MAX_QUIET_MS))
      }
      const waitMs = retryAfterMs ?? backoffMs(attempt, this.#o.random)
      // This request waits out what Kopo Kopo asked; the others are held back by #quietUntil.
      waitedUntil = retryAfterMs === undefined ? 0 : now + waitMs
      if (attempt >= this.#o.retries || waitMs >= deadline.remaining()) {
        // The client is told when to come back, rather than handed a 502 that reads as a broken answer.
        if (told) {
          throw new UpstreamUnavailableError(status === 429 ? 'Kopo Kopo is throttling requests.' : 'Kopo Kopo is unavailable for now.',
            { retryAfter: this.#comeBackS(retryAfterMs ?? 1000), upstreamStatus: status })
        }
        return unwrap(result)
      }
      try {
        await this.#o.sleep(waitMs, deadline.signal)
      } catch {
        throw new UpstreamTimeoutError(deadline.timeoutMs)
      }
    }
  }

  /** Throws when a pause, or the open circuit, holds calls back now. */
  #mayCall (deadline: Deadline, waitedUntil: number): void {
    const quietMs = this.#quietUntil - this.#o.clock.now()
    // Past its own wait (a timer may fire a moment early), a request is still
    // held by a longer pause that another answer asked for meanwhile.
    if (quietMs > 0 && this.#quietUntil > waitedUntil) {
      throw new UpstreamPausedError(this.#comeBackS(quietMs), deadline.attempts > 0)
    }
    const heldMs = this.#o.breaker.heldForMs()
    if (heldMs > 0) throw circuitOpen(heldMs, deadline)
  }

  /** The circuit's ticket for a call going out now (the probe, when it is half-open). */
  #ticket (deadline: Deadline): CircuitTicket {
    try {
      return this.#o.breaker.acquire()
    } catch (err) {
      if (!(err instanceof CircuitOpenError)) throw err
      throw circuitOpen(err.retryAfterMs, deadline)
    }
  }

  // The Retry-After a client is given: Kopo Kopo's wait, or the open circuit's
  // when that is longer, so that a client does not come back to another 503.
  #comeBackS (waitMs: number): number {
    return clientRetryAfterS(Math.max(waitMs, this.#o.breaker.heldForMs()))
  }

  /**
   * Whether a call asking for a connection now expects its turn with a call's
   * time still left (and is counted in the turns of those behind it). One that
   * does not would be refused after its wait anyway (below), and meanwhile
   * holds its client and its memory: it is refused now, once calls have waited
   * without a break for a call's time. Until then the queue may be a passing
   * burst, and the time a call takes out of date: it waits, not counted. The
   * time is the median: a stall charged to every call waiting refused calls
   * that had their turn in time.
   */
  #inTime (deadline: Deadline): boolean {
    const { slots } = this.#o
    // A connection is free: no estimate, and no sort, on a miss's way.
    if (!slots.full) return true
    const callMs = this.#times.medianMs()
    const waitMs = slots.expectedWaitMs(callMs)
    if (waitMs === 0) return true
    const leftMs = deadline.remaining()
    if (leftMs - waitMs >= callMs) return true
    if (slots.queuedMs() < callMs) return false
    this.#o.onBusy?.()
    throw new UpstreamBusyError(this.#comeBackS(waitMs), deadline.attempts > 0,
      `every connection to Kopo Kopo busy: about ${Math.ceil(waitMs)} ms to wait for one, ${Math.floor(leftMs)} ms left`)
  }

  async #attempt (call: UpstreamCall, request: UpstreamRequest, deadline: Deadline, waitedUntil: number): Promise<UpstreamResponse | AttemptError> {
    const { slots } = this.#o
    this.#mayCall(deadline, waitedUntil)
    const inTime = this.#inTime(deadline)
    const waiting = slots.take(deadline, () => new UpstreamTimeoutError(deadline.timeoutMs, 'no connection to Kopo Kopo came free', deadline.attempts > 0), inTime)
    let holding = waiting === undefined
    let ticket: CircuitTicket
    try {
      if (waiting !== undefined) {
        await waiting
        holding = true
        // A pause or the circuit may have begun while the call waited for a connection.
        this.#mayCall(deadline, waitedUntil)
        // With less time left than a call takes lately, it would be cut off on its
        // connection, which undici then closes, for an answer nobody waits for:
        // under overload every call that waited long went out so, and none came back.
        if (deadline.remaining() < this.#times.medianMs()) {
          throw new UpstreamTimeoutError(deadline.timeoutMs, 'too little time left after waiting for a connection to Kopo Kopo', deadline.attempts > 0)
        }
      }
      // Taken when the call goes, not before it waited: no call goes out once the circuit is open.
      ticket = this.#ticket(deadline)
    } catch (err) {
      if (holding) slots.release()
      throw err
    }
    deadline.attempts++
    const started = performance.now()
    const seconds = () => (performance.now() - started) / 1000
    const exchange = this.#exchange(request, deadline)
    let response: UpstreamResponse
    try {
      response = await this.#answer(exchange, deadline, started)
    } catch (err) {
      this.#o.breaker.failure(ticket)
      this.#freeSlot(exchange)
      if (deadline.expired) {
        this.#o.observe?.(call, 'timeout', seconds())
        throw new UpstreamTimeoutError(deadline.timeoutMs)
      }
      if (err instanceof TooLargeError) {
        this.#o.observe?.(call, 'too_large', seconds())
        return new AttemptError('Kopo Kopo sent an oversized answer.', false, err.status)
      }
      this.#o.observe?.(call, 'network_error', seconds())
      return new AttemptError('Kopo Kopo could not be reached.', true, undefined, transportReason(err))
    }
    const outcome = classify(response.status)
    if (call === 'status') this.#times.record(response.durationMs)
    if (outcome === 'server_error' || outcome === 'rate_limited') this.#o.breaker.failure(ticket)
    else this.#o.breaker.success(ticket)
    this.#freeSlot(exchange)
    this.#o.observe?.(call, outcome, seconds())
    return response
  }

  /**
   * Frees the call's slot once undici is done with its request: at once for an
   * answer, after the deadline for a handshake still under way. Called after
   * the outcome counted, so a call waiting for the slot sees the circuit the
   * outcome may have opened.
   */
  #freeSlot (exchange: Promise<unknown>): void {
    exchange.then(this.#release, this.#release)
  }

  async #answer (exchange: Promise<Exchange>, deadline: Deadline, started: number): Promise<UpstreamResponse> {
    // undici acts on the abort only once the request is on a connection. One
    // still waiting for its connection (a DNS lookup or handshake that never
    // completes) would outlive the deadline until the connect timeout, which
    // undici fires on its half-second timer tick; so the wait itself ends at
    // the deadline.
    const { statusCode, headers, read } = await within(exchange, deadline, () => new UpstreamTimeoutError(deadline.timeoutMs))
    // Only a success is read for what its body says. Of any other answer the
    // status decides, and its body serves the log at most: a 404 of a megabyte
    // of HTML is still a 404, and a 503 or 401 still retried.
    if (read === undefined && statusCode >= 200 && statusCode < 300) throw new TooLargeError(statusCode)
    return { status: statusCode, headers, body: read ?? NO_BODY, durationMs: performance.now() - started }
  }

  readonly #release = (): void => { this.#o.slots.release() }

  /** One request to Kopo Kopo and its answer. */
  async #exchange (request: UpstreamRequest, deadline: Deadline): Promise<Exchange> {
    const { statusCode, headers, body } = await this.#o.dispatcher.request({
      origin: this.#o.baseUrl,
      path: request.path,
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
      // The deadline's abort is the headers and body timeout: it ends a wait for
      // either at the deadline itself. undici's own timers (0 turns them off)
      // could only fire later, and each request would make a new one that
      // undici keeps listed for up to a second after it is cleared, long enough
      // to reach the old generation: under the benchmark's miss load that
      // halved the time between full GCs (see the README's miss path).
      signal: deadline.events,
      headersTimeout: 0,
      bodyTimeout: 0
    })
    const declared = Number(headers['content-length'])
    return { statusCode, headers, read: declared > MAX_BODY_BYTES ? discard(body) : await readCapped(body) }
  }
}

const NO_BODY = Buffer.alloc(0)

/** An answer as undici gave it, its body read up to MAX_BODY_BYTES (undefined past them). */
interface Exchange {
  statusCode: number
  headers: IncomingHttpHeaders
  read: Buffer | undefined
}

function circuitOpen (retryAfterMs: number, deadline: Deadline): UpstreamUnavailableError {
  return new UpstreamUnavailableError('Kopo Kopo is failing; calls are paused for a moment.',
    { retryAfter: clientRetryAfterS(retryAfterMs), forwarded: deadline.attempts > 0 })
}

/** A body not to be read: dropped, with its connection. */
function discard (body: Readable): undefined {
  body.destroy()
  return undefined
}

/**
 * The whole body; undefined, and the body dropped, once it passes
 * MAX_BODY_BYTES (a chunked answer declares no length). Events rather than an
 * async iterator: the answer is usually one chunk, and the iterator's promises
 * and listeners cost more. Later chunks are copied into one buffer, not kept:
 * each of undici's chunks is a view that holds on to a socket read buffer, so
 * an answer sent a byte per chunk, within the byte cap, held some 100 MB of
 * them and two at once ran the service out of heap.
 */
async function readCapped (body: Readable): Promise<Buffer | undefined> {
  return await new Promise((resolve, reject) => {
    let first: Buffer | undefined
    let copied: Buffer | undefined
    let size = 0
    body.on('data', (chunk: Buffer) => {
      const at = size
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        resolve(discard(body))
        return
      }
      if (first === undefined && copied === undefined) {
        first = chunk
        return
      }
      if (copied === undefined || size > copied.length) {
        const grown = Buffer.allocUnsafe(Math.min(MAX_BODY_BYTES, Math.max(size, 2 * (copied?.length ?? at), MIN_COPY_BYTES)))
        ;(copied ?? first)?.copy(grown, 0, 0, at)
        copied = grown
        first = undefined
      }
      chunk.copy(copied, at)
    })
    body.once('end', () => resolve(copied?.subarray(0, size) ?? first ?? NO_BODY))
    body.once('error', reject)
  })
}

function classify (status: number): UpstreamOutcome {
  if (status < 400) return 'ok'
  if (status === 401) return 'unauthorized'
  if (status === 404) return 'not_found'
  if (status === 429) return 'rate_limited'
  if (status >= 500) return 'server_error'
  return 'client_error'
}

class TooLargeError extends Error {
  constructor (readonly status: number) {
    super('upstream body too large')
  }
}

/** A failed attempt that produced no usable answer; thrown once retries are spent. */
class AttemptError extends Error {
  constructor (message: string, readonly retryable: boolean, readonly status?: number, readonly reason?: string) {
    super(message)
  }
}

function unwrap (result: UpstreamResponse | AttemptError): UpstreamResponse {
  if (!(result instanceof AttemptError)) return result
  throw new UpstreamBadResponseError(result.message, { upstreamStatus: result.status, reason: result.reason })
}

/**
 * What went wrong on the way, for the log: the code of undici's or the
 * system's error (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET, a TLS error...),
 * which tells a refused connection from a failed lookup or a bad certificate.
 */
function transportReason (err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return err instanceof Error ? err.name : undefined
}
