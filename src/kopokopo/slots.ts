import { performance } from 'node:perf_hooks'
import type { Deadline } from './deadline.js'

interface Waiter {
  deadline: Deadline
  resolve: () => void
  onAbort: () => void
  /** Gone: its deadline ran out while it waited. */
  gone: boolean
  /** Expected to get its slot in time, and so counted in the wait of those behind it. */
  counted: boolean
}

/**
 * At most `size` calls to Kopo Kopo under way at once, one for each of the
 * pool's connections; the others wait here, in turn, each no longer than its
 * deadline. undici's pool would queue them as well, but a request aborted while
 * queued there is still handed a connection when one frees up, and undici then
 * destroys that connection: with Kopo Kopo slow, every request that timed out
 * in the queue cost a new connection (a TLS handshake), and the ones that came
 * through went out near their deadline, the circuit long open, for answers
 * nobody waited for any more. A call that waited here and gave up never
 * reached undici, and never counts as an attempt. One that would not get a
 * slot in time is refused before it waits, once the queue has stood
 * (expectedWaitMs and queuedMs, used by upstream.ts).
 */
export class Slots {
  readonly #size: number
  #free: number
  // In arrival order from #head; those whose deadline ran out are skipped.
  #queue: Waiter[] = []
  #head = 0
  #waiting = 0
  // Those of them counted (Waiter.counted).
  #counted = 0
  // Since when calls have waited without a break, and when a call last took a
  // slot (performance.now()).
  #queuedSince = 0
  #lastTaken = 0

  constructor (size: number) {
    this.#size = size
    this.#free = size
  }

  /** Calls waiting for a slot now. */
  get waiting (): number {
    return this.#waiting
  }

  /** Every slot taken. */
  get full (): boolean {
    return this.#free === 0
  }

  /** How long calls have waited without a break; 0 while none waits. */
  queuedMs (now = performance.now()): number {
    return this.#waiting === 0 ? 0 : now - this.#queuedSince
  }

  /**
   * About how long a call asking now would wait for a slot, when calls take
   * `callMs` each: none with a slot free. Else, with every slot busy, they
   * free one after another `callMs / size` apart, the next that long after a
   * call last took one (exact with one slot), and each waiting call counted
   * takes one of them first. Those let in not expecting their turn in time
   * are not counted: they are expected to leave without a call when it comes.
   */
  expectedWaitMs (callMs: number, now = performance.now()): number {
    if (this.#free > 0) return 0
    const spacing = callMs / this.#size
    return Math.max(0, this.#lastTaken + spacing - now) + this.#counted * spacing
  }

  /**
   * Takes a slot: at once (undefined) when one is free, else a promise that
   * resolves when one is handed over and rejects with `onTimeout()` when the
   * deadline runs out first. The caller must release() every slot it took.
   */
  take (deadline: Deadline, onTimeout: () => Error, counted = true): Promise<void> | undefined {
    if (this.#free > 0) {
      // Read only while every slot is taken: the take that took the last is
      // the one it needs, not every miss's.
      if (--this.#free === 0) this.#lastTaken = performance.now()
      return undefined
    }
    if (deadline.expired) return Promise.reject(onTimeout())
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        deadline,
        resolve,
        gone: false,
        counted,
        onAbort: () => {
          waiter.gone = true
          this.#leave(waiter)
          reject(onTimeout())
        }
      }
      deadline.events.once('abort', waiter.onAbort)
      this.#queue.push(waiter)
      if (this.#waiting++ === 0) this.#queuedSince = performance.now()
      if (counted) this.#counted++
    })
  }

  /** Gives the slot back: to the call that has waited longest, if one still waits. */
  release (): void {
    while (this.#head < this.#queue.length) {
      const waiter = this.#queue[this.#head++]!
      if (waiter.gone) continue
      this.#compact()
      waiter.deadline.events.off('abort', waiter.onAbort)
      this.#leave(waiter)
      this.#lastTaken = performance.now()
      waiter.resolve()
      return
    }
    this.#queue = []
    this.#head = 0
    this.#free++
  }

  #leave (waiter: Waiter): void {
    this.#waiting--
    if (waiter.counted) this.#counted--
  }

  // Drops the handled front of the queue now and then, rather than shifting the array every time.
  #compact (): void {
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
  }
}
