import type { Clock } from '../clock.js'

export type CircuitState = 'closed' | 'open' | 'half-open'

export interface CircuitBreakerOptions {
  failureThreshold: number
  resetMs: number
  clock: Clock
  onStateChange?: (state: CircuitState) => void
}

export class CircuitOpenError extends Error {
  readonly retryAfterMs: number
  constructor (retryAfterMs: number) {
    super('circuit open')
    this.name = 'CircuitOpenError'
    this.retryAfterMs = retryAfterMs
  }
}

/**
 * Counts consecutive failed upstream attempts (5xx, 429, timeouts, connection
 * errors). Once open, no call reaches Kopo Kopo until `resetMs` has passed;
 * then exactly one probe goes through, and its outcome closes or reopens the
 * circuit. This keeps a struggling upstream from being hammered by retries of
 * every polling browser at once.
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions
  #state: CircuitState = 'closed'
  #failures = 0
  #openedAt = 0
  #probing = false

  constructor (options: CircuitBreakerOptions) {
    this.#options = options
  }

  /** Call before each attempt; throws CircuitOpenError when no attempt may go out. */
  acquire (): void {
    if (this.#state === 'closed') return
    const waited = this.#options.clock.now() - this.#openedAt
    if (this.#state === 'open' && waited >= this.#options.resetMs) {
      this.#set('half-open')
      this.#probing = false
    }
    if (this.#state === 'half-open' && !this.#probing) {
      this.#probing = true
      return
    }
    throw new CircuitOpenError(Math.max(0, this.#options.resetMs - waited))
  }

  success (): void {
    this.#failures = 0
    this.#probing = false
    if (this.#state !== 'closed') this.#set('closed')
  }

  failure (): void {
    this.#failures++
    this.#probing = false
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.#options.failureThreshold)) {
      this.#openedAt = this.#options.clock.now()
      this.#set('open')
    }
  }

  #set (state: CircuitState): void {
    this.#state = state
    this.#options.onStateChange?.(state)
  }
}
