import { LRUCache } from 'lru-cache'
import type { Clock } from '../clock.js'
import { ownCopy } from '../own-copy.js'

/** A payment link answer kept ready to send: the bytes and their ETag are computed once. */
export interface FoundEntry {
  found: true
  body: Buffer
  etag: string
  freshUntil: number
  /** Past freshness, kept only to answer when Kopo Kopo is failing (stale-if-error). */
  staleUntil: number
}

export interface NotFoundEntry {
  found: false
  freshUntil: number
  staleUntil: number
}

export type CacheEntry = FoundEntry | NotFoundEntry

export interface LinkCacheOptions {
  maxEntries: number
  maxBytes: number
  clock: Clock
  /** Called for each entry pushed out by the bounds while still of use (fresh or within its stale window). */
  onEvict?: () => void
}

// Per-entry bookkeeping (key, entry object, LRU slots) on top of the body bytes,
// so that a flood of tiny 404 entries is bounded by bytes too.
const ENTRY_OVERHEAD_BYTES = 200

function sizeOf (entry: CacheEntry): number {
  return ENTRY_OVERHEAD_BYTES + (entry.found ? entry.body.length + entry.etag.length : 0)
}

/**
 * An LRU bounded by entry count and by bytes. Expiry is checked against the
 * injected clock on read; an entry is dropped once past its stale window.
 */
export class LinkCache {
  readonly #lru: LRUCache<string, CacheEntry>
  readonly #clock: Clock
  readonly #maxBytes: number

  constructor (options: LinkCacheOptions) {
    this.#clock = options.clock
    this.#maxBytes = options.maxBytes
    const { onEvict } = options
    this.#lru = new LRUCache<string, CacheEntry>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: sizeOf,
      // lru-cache calls this on writes only (eviction, replacement, removal), never on
      // a hit. An entry past its stale window lingers until read or pushed out: losing
      // it loses nothing, so it is not reported.
      ...(onEvict === undefined
        ? {}
        : { dispose: (entry, _id, reason) => { if (reason === 'evict' && this.#clock.now() < entry.staleUntil) onEvict() } })
    })
  }

  /** The entry, fresh or stale; undefined once past its stale window. */
  get (id: string): CacheEntry | undefined {
    const entry = this.#lru.get(id)
    if (entry !== undefined && this.#clock.now() >= entry.staleUntil) {
      this.#lru.delete(id)
      return undefined
    }
    return entry
  }

  /**
   * The entry, fresh or stale, without marking it recently used or dropping
   * it: for a look that may not lead to an answer.
   */
  peek (id: string): CacheEntry | undefined {
    const entry = this.#lru.peek(id)
    return entry !== undefined && this.#clock.now() < entry.staleUntil ? entry : undefined
  }

  /**
   * Keeps the entry, in place of any before it; false when it is larger than
   * the byte bound allows any one entry to be (lru-cache drops it, and the one
   * before it, without a word).
   */
  set (id: string, entry: CacheEntry): boolean {
    if (sizeOf(entry) > this.#maxBytes) {
      this.#lru.delete(id)
      return false
    }
    // The id is cut from the request's URL, up to 2 KB of it with a query:
    // with the bounds raised, 47,000 such 404s ran the heap out.
    this.#lru.set(ownCopy(id), entry)
    return true
  }

  delete (id: string): void {
    this.#lru.delete(id)
  }

  get size (): number {
    return this.#lru.size
  }

  get bytes (): number {
    return this.#lru.calculatedSize
  }
}
