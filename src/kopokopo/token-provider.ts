import type { Clock } from '../clock.js'
import { UpstreamAuthError, UpstreamBadResponseError, UpstreamTimeoutError } from '../errors.js'
import { withDeadline, within, type Deadline } from './deadline.js'
import { checkTokenResponse, parseJson } from './schemas.js'
import type { Upstream } from './upstream.js'

export interface TokenProviderOptions {
  upstream: Upstream
  clientId: string
  clientSecret: string
  clock: Clock
  /** Deadline of one token fetch; shared by every request waiting on it. */
  timeoutMs: number
  onFetch?: () => void
}

interface Token {
  value: string
  renewAt: number
}

// Renew a minute early (or a tenth of the lifetime for short-lived tokens), so
// a token never expires between our check and Kopo Kopo's.
const MAX_MARGIN_MS = 60_000
// For a token answer without a usable lifetime (none, or not above zero):
// renewed this often, and at once should Kopo Kopo answer 401 before that.
export const DEFAULT_TOKEN_LIFETIME_S = 300

/**
 * Holds one OAuth client-credentials token in memory. Concurrent callers share
 * a single fetch (and its failure: a failing token endpoint sees one attempt,
 * not one per waiting request).
 */
export class TokenProvider {
  readonly #o: TokenProviderOptions
  #token: Token | null = null
  #pending: Promise<Token> | null = null

  constructor (options: TokenProviderOptions) {
    this.#o = options
  }

  /** A valid access token, fetched when there is none or it is about to expire. */
  async get (deadline: Deadline): Promise<string> {
    const token = this.#token
    if (token !== null && this.#o.clock.now() < token.renewAt) return token.value
    this.#pending ??= this.#fetch().finally(() => { this.#pending = null })
    const fresh = await within(this.#pending, deadline, () => new UpstreamTimeoutError(deadline.timeoutMs))
    return fresh.value
  }

  /**
   * Drops `value` after Kopo Kopo rejected it, unless another request already
   * replaced it: concurrent 401s then share one refresh.
   */
  invalidate (value: string): void {
    if (this.#token?.value === value) this.#token = null
  }

  get holdsToken (): boolean {
    return this.#token !== null && this.#o.clock.now() < this.#token.renewAt
  }

  async #fetch (): Promise<Token> {
    const body = new URLSearchParams({
      client_id: this.#o.clientId,
      client_secret: this.#o.clientSecret,
      grant_type: 'client_credentials'
    }).toString()
    const response = await withDeadline(this.#o.timeoutMs, async deadline => {
      try {
        return await this.#o.upstream.send('token', {
          method: 'POST',
          path: '/oauth/token',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body
        }, deadline)
      } finally {
        // A fetch the open circuit refused outright asked nothing of Kopo Kopo.
        if (deadline.attempts > 0) this.#o.onFetch?.()
      }
    })

    if (response.status === 400 || response.status === 401 || response.status === 403) {
      throw new UpstreamAuthError(response.status)
    }
    if (response.status !== 200) {
      throw new UpstreamBadResponseError(`The Kopo Kopo token endpoint answered ${response.status}.`, { upstreamStatus: response.status })
    }
    const parsed = parseJson(response.body)
    if (!checkTokenResponse.Check(parsed)) {
      throw new UpstreamBadResponseError('The Kopo Kopo token endpoint sent an answer of the wrong shape.', { upstreamStatus: 200 })
    }
    const seconds = Number(parsed.expires_in)
    const lifetimeMs = (seconds > 0 ? seconds : DEFAULT_TOKEN_LIFETIME_S) * 1000
    const token = {
      value: parsed.access_token,
      renewAt: this.#o.clock.now() + lifetimeMs - Math.min(MAX_MARGIN_MS, lifetimeMs / 10)
    }
    this.#token = token
    return token
  }
}
