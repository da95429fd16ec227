import { setTimeout as delay } from 'node:timers/promises'

// Time and chance are passed in, so tests drive token expiry, cache TTLs,
// the circuit breaker and retry backoff without sleeping.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
}

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>

export const systemClock: Clock = { now: () => Date.now() }

export const systemSleep: Sleep = async (ms, signal) => {
  await delay(ms, undefined, { signal, ref: false })
}
