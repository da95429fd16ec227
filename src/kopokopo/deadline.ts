import { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'

/**
 * Emits 'abort' once, when the deadline runs out. undici takes an
 * EventEmitter as a request's abort signal; one costs far less than an
 * AbortController, which `npm run bench` measured at about a tenth of a
 * miss's CPU (its construction, listeners and the garbage they leave).
 */
export class DeadlineEvents extends EventEmitter {
  aborted = false
  reason: Error | undefined = undefined
}

/**
 * The time budget for all the upstream work behind one client request: token,
 * attempts and backoff together. It runs on the real monotonic clock because
 * the sockets it bounds do. Made through withDeadline(), which releases it.
 */
export class Deadline {
  readonly timeoutMs: number
  /** For undici and for waiting on the deadline; `signal` is the AbortSignal form. */
  readonly events = new DeadlineEvents()
  /** Attempts sent to Kopo Kopo under this deadline (not those the circuit breaker refused). */
  attempts = 0
  readonly #end: number
  readonly #timer: NodeJS.Timeout
  #signal: AbortSignal | undefined

  constructor (timeoutMs: number) {
    this.timeoutMs = timeoutMs
    // Cancelled by release(): a timer left running (as AbortSignal.timeout's
    // cannot be cancelled) keeps every request's deadline alive for the whole
    // timeout after the answer, and under load they fill the old generation.
    this.#timer = setTimeout(() => {
      this.events.aborted = true
      this.events.reason = new DOMException('The operation timed out.', 'TimeoutError')
      this.events.emit('abort')
    }, timeoutMs)
    this.#timer.unref()
    this.#end = performance.now() + timeoutMs
  }

  /** An AbortSignal that aborts with the deadline, made on first use (only backoff sleeps need one). */
  get signal (): AbortSignal {
    if (this.#signal === undefined) {
      const controller = new AbortController()
      const abort = () => controller.abort(this.events.reason)
      if (this.events.aborted) abort()
      else this.events.once('abort', abort)
      this.#signal = controller.signal
    }
    return this.#signal
  }

  /** Milliseconds left, never negative. */
  remaining (): number {
    return Math.max(0, this.#end - performance.now())
  }

  get expired (): boolean {
    return this.events.aborted
  }

  /** The work is over: stop the timer, so the deadline is freed with the request. */
  release (): void {
    clearTimeout(this.#timer)
  }
}

/**
 * Runs `work` under a new deadline and releases it however the work ends:
 * how the service makes its deadlines, so none outlives its request.
 */
export async function withDeadline<T> (timeoutMs: number, work: (deadline: Deadline) => Promise<T>): Promise<T> {
  const deadline = new Deadline(timeoutMs)
  try {
    return await work(deadline)
  } finally {
    deadline.release()
  }
}

/**
 * Waits for `promise` but gives up when the caller's deadline runs out. One
 * promise and one listener, as it runs on every upstream attempt: a
 * Promise.race form (a second promise, an async frame) made about 2% more
 * young garbage per miss under the benchmark's miss load.
 */
export function within<T> (promise: Promise<T>, deadline: Deadline, onTimeout: () => Error): Promise<T> {
  if (deadline.expired) {
    // Nobody waits on it now: should it fail, its failure must not go
    // unhandled, which would end the process.
    promise.catch(() => {})
    return Promise.reject(onTimeout())
  }
  const { events } = deadline
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => { reject(onTimeout()) }
    events.once('abort', stop)
    promise.then(value => {
      events.off('abort', stop)
      resolve(value)
    }, (error: unknown) => {
      events.off('abort', stop)
      reject(error)
    })
  })
}
