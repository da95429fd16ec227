import { performance } from 'node:perf_hooks'

/**
 * The time budget for all the upstream work behind one client request: token,
 * attempts and backoff together. It runs on the real monotonic clock because
 * the sockets it bounds do.
 */
export class Deadline {
  readonly signal: AbortSignal
  readonly timeoutMs: number
  readonly #end: number

  constructor (timeoutMs: number) {
    this.timeoutMs = timeoutMs
    this.signal = AbortSignal.timeout(timeoutMs)
    this.#end = performance.now() + timeoutMs
  }

  /** Milliseconds left, never negative. */
  remaining (): number {
    return Math.max(0, this.#end - performance.now())
  }

  get expired (): boolean {
    return this.signal.aborted
  }
}

/** Waits for `promise` but gives up when the caller's deadline runs out. */
export async function within<T> (promise: Promise<T>, deadline: Deadline, onTimeout: () => Error): Promise<T> {
  if (deadline.expired) throw onTimeout()
  let stop!: () => void
  const timedOut = new Promise<never>((_resolve, reject) => {
    stop = () => reject(onTimeout())
    deadline.signal.addEventListener('abort', stop, { once: true })
  })
  try {
    return await Promise.race([promise, timedOut])
  } finally {
    deadline.signal.removeEventListener('abort', stop)
  }
}
