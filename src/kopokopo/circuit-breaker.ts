import type { Clock } from '../clock.js'

export type CircuitState = 'closed' | 'open' | 'half-open'

/** A change of state, as reported to onStateChange. */
export interface CircuitChange {
  state: CircuitState
  from: CircuitState
  /** Failed attempts in a row, the one that (re)opened the circuit included; 0 once closed. */
  consecutiveFailures: number
}

export interface CircuitBreakerOptions {
  failureThreshold: number
  resetMs: number
  clock: Clock
  onStateChange?: (change: CircuitChange) => void
}

export class CircuitOpenError extends Error {
  readonly retryAfterMs: number
  constructor (retryAfterMs: number) {
    super('circuit open')
    this.name = 'CircuitOpenError'
    this.retryAfterMs = retryAfterMs
  }
}

/** What acquire() hands an attempt; its outcome is reported with it. */
export type CircuitTicket = number

/**
 * Counts consecutive failed upstream attempts (5xx, 429, timeouts, connection
 * errors). Once open, no call reaches Kopo Kopo until `resetMs` has passed;
 * then exactly one probe goes through, and its outcome closes or reopens the
 * circuit. This keeps a struggling upstream from being hammered by retries of
 * every polling browser at once.
 *
 * An outcome counts only in the state its attempt was let through in: a slow
 * call sent while the circuit was closed must not close it again once it has
 * opened (skipping the pause and the single probe), nor decide a probe's fate.
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions
  #state: CircuitState = 'closed'
  // Bumped on every change of state; tickets from an earlier one are ignored.
  #generation = 0
  #failures = 0
  #openedAt = 0
  #probing = false

  constructor (options: CircuitBreakerOptions) {
    this.#options = options
  }

  /** Whether calls go out freely: neither paused nor waiting on a probe. */
  get closed (): boolean {
    return this.#state === 'closed'
  }

  /** How long the open circuit holds every call back still; 0 once a probe may go. */
  heldForMs (): number {
    if (this.#state !== 'open') return 0
    return Math.max(0, this.#options.resetMs - (this.#options.clock.now() - this.#openedAt))
  }

  /** Call before each attempt; throws CircuitOpenError when no attempt may go out. */
  acquire (): CircuitTicket {
    if (this.#state === 'closed') return this.#generation
    if (this.#state === 'open' && this.heldForMs() === 0) {
      this.#set('half-open')
      this.#probing = false
    }
    if (this.#state === 'half-open' && !this.#probing) {
      this.#probing = true
      return this.#generation
    }
    throw new CircuitOpenError(this.heldForMs())
  }

  success (ticket: CircuitTicket): void {
    if (ticket !== this.#generation) return
    this.#failures = 0
    this.#probing = false
    if (this.#state !== 'closed') this.#set('closed')
  }

  failure (ticket: CircuitTicket): void {
    if (ticket !== this.#generation) return
    this.#failures++
    this.#probing = false
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.#options.failureThreshold)) {
      this.#openedAt = this.#options.clock.now()
      this.#set('open')
    }
  }

  #set (state: CircuitState): void {
    const from = this.#state
    this.#state = state
    this.#generation++
    this.#options.onStateChange?.({ state, from, consecutiveFailures: this.#failures })
  }
}
