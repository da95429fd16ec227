/**
 * How long status calls Kopo Kopo answered have taken lately (token calls,
 * rare and quick, would only pull the figure down): the median of the last
 * five, which one or two stalls do not move, and which follows Kopo Kopo
 * turning slow, or fast again, within three answers (an average of the last
 * sixteen or so, used before, still held a slow spell long after it ended,
 * and sent calls away that had time enough). 0 until one is answered.
 */
export class CallTimes {
  readonly #last = new Float64Array(5)
  #count = 0
  #next = 0

  record (ms: number): void {
    this.#last[this.#next] = ms
    this.#next = (this.#next + 1) % this.#last.length
    this.#count = Math.min(this.#count + 1, this.#last.length)
  }

  /** The median of the last five (of fewer, the lower middle one); sorted only when asked. */
  medianMs (): number {
    if (this.#count === 0) return 0
    const sorted = this.#last.slice(0, this.#count).sort()
    return sorted[(this.#count - 1) >> 1]!
  }
}
