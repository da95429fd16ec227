import type { Clock } from '../clock.js'
import { UpstreamAuthError, UpstreamBadResponseError, UpstreamTimeoutError } from '../errors.js'
import { withDeadline, within, type Deadline } from './deadline.js'
import { checkTokenResponse, mismatch, parseJson, upstreamMessage } from './schemas.js'
import type { Upstream } from './upstream.js'

export interface TokenProviderOptions {
  upstream: Upstream
  clientId: string
  clientSecret: string
  clock: Clock
  /** Deadline of one token fetch; shared by every request waiting on it. */
  timeoutMs: number
  onFetch?: () => void
  /**
   * Whether a renewal that no request waits on may go out now. Not while the
   * circuit is open or probing: it would take the one probe, and a request
   * holding a good token would be refused in its place.
   */
  mayRenewEarly: () => boolean
  /** A renewal failed while the token in hand was still good (no request saw the failure); the next is tried after `retryInMs`. */
  onRenewalFailure?: (err: unknown, expiresInMs: number, retryInMs: number) => void
}

interface Token {
  value: string
  renewAt: number
  /** When Kopo Kopo stops taking it, counted from when it was asked for. */
  expiresAt: number
}

// Renew a minute early (or a tenth of the lifetime for short-lived tokens), so
// a token never expires between our check and Kopo Kopo's.
const MAX_MARGIN_MS = 60_000
// For a token answer without a usable lifetime (none, or not above zero):
// renewed this often, and at once should Kopo Kopo answer 401 before that.
export const DEFAULT_TOKEN_LIFETIME_S = 300
// After a failed early renewal, the next waits this long, doubling with each
// failure (but at most half the token's time left): requests go on with the
// token in hand, and a failing token endpoint is not called once per request,
// each of which, succeeding with the old token, would keep the circuit closed.
const RENEWAL_BACKOFF_MS = 1000
// After Kopo Kopo refused the credentials, with no token in hand, requests are
// answered with that refusal without asking again for this long, doubling with
// each refusal up to a minute: every request would otherwise make a token call,
// which nothing else slows (a refusal is not a failure to the circuit), and
// thousands an hour may get the merchant's client throttled or locked.
const REFUSAL_BACKOFF_MS = 1000
const MAX_REFUSAL_BACKOFF_MS = 60_000

/**
 * Holds one OAuth client-credentials token in memory. Concurrent callers share
 * a single fetch (and its failure: a failing token endpoint sees one attempt,
 * not one per waiting request). A token is renewed shortly before it expires,
 * in the background: until it does expire, requests go on using it rather
 * than wait on its renewal, or fail with it.
 */
export class TokenProvider {
  readonly #o: TokenProviderOptions
  // The secret as written and as the token call's form body carries it: an
  // error answer that echoes the request would otherwise bring it to the log.
  readonly #secrets: string[]
  #token: Token | null = null
  #pending: Promise<Token> | null = null
  #obtained = false
  #failedRenewals = 0
  #nextRenewalAt = 0
  // Kopo Kopo's last refusal of the credentials, as told to requests until `until`.
  #refusal: { status: number, reason: string | undefined, until: number, count: number } | null = null

  constructor (options: TokenProviderOptions) {
    this.#o = options
    this.#secrets = [options.clientSecret, new URLSearchParams({ s: options.clientSecret }).toString().slice(2)]
  }

  /** A valid access token, fetched when there is none or it has expired; renewed in the background shortly before. */
  async get (deadline: Deadline): Promise<string> {
    const token = this.#token
    const now = this.#o.clock.now()
    if (token !== null && now < token.renewAt) return token.value
    const valid = token !== null && now < token.expiresAt
    if (valid && (now < this.#nextRenewalAt || !this.#o.mayRenewEarly())) return token.value
    const refusal = this.#refusal
    if (!valid && refusal !== null && now < refusal.until) throw new UpstreamAuthError(refusal.status, refusal.reason, 'credentials', false)
    const renewal = this.#renewal()
    if (valid) return token.value
    const fresh = await within(renewal, deadline, () => new UpstreamTimeoutError(deadline.timeoutMs))
    return fresh.value
  }

  /**
   * Drops `value` after Kopo Kopo rejected it, unless another request already
   * replaced it: concurrent 401s then share one refresh.
   */
  invalidate (value: string): void {
    if (this.#token?.value === value) this.#token = null
  }

  /** Whether a token was ever obtained: the credentials and the way to Kopo Kopo worked at least once. */
  get obtainedOnce (): boolean {
    return this.#obtained
  }

  /** The fetch under way, or a new one. */
  #renewal (): Promise<Token> {
    if (this.#pending !== null) return this.#pending
    const pending = this.#fetch().finally(() => { this.#pending = null })
    this.#pending = pending
    pending.then(() => { this.#refusal = null }, (err: unknown) => {
      const now = this.#o.clock.now()
      const token = this.#token
      const left = token === null ? 0 : token.expiresAt - now
      // Only a refusal with no token in hand: one of an early renewal is no request's answer.
      if (err instanceof UpstreamAuthError && left <= 0) {
        const count = (this.#refusal?.count ?? 0) + 1
        const until = now + Math.min(REFUSAL_BACKOFF_MS * 2 ** (count - 1), MAX_REFUSAL_BACKOFF_MS)
        this.#refusal = { status: err.upstreamStatus ?? 401, reason: err.reason, until, count }
      }
      // A request waiting on it has its failure; one renewing early has none to tell.
      if (left <= 0) return
      const retryInMs = Math.min(RENEWAL_BACKOFF_MS * 2 ** this.#failedRenewals++, left / 2)
      this.#nextRenewalAt = now + retryInMs
      this.#o.onRenewalFailure?.(err, left, retryInMs)
    })
    return pending
  }

  async #fetch (): Promise<Token> {
    const askedAt = this.#o.clock.now()
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
      throw new UpstreamAuthError(response.status, upstreamMessage(response.body, this.#secrets))
    }
    if (response.status !== 200) {
      throw new UpstreamBadResponseError(`The Kopo Kopo token endpoint answered ${response.status}.`, {
        upstreamStatus: response.status, reason: upstreamMessage(response.body, this.#secrets)
      })
    }
    const parsed = parseJson(response.body)
    if (!checkTokenResponse.Check(parsed)) {
      throw new UpstreamBadResponseError('The Kopo Kopo token endpoint sent an answer of the wrong shape.', {
        upstreamStatus: 200, reason: parsed === undefined ? 'not JSON' : mismatch(checkTokenResponse, parsed)
      })
    }
    const lifetimeMs = lifetimeSeconds(parsed.expires_in) * 1000
    const token = {
      value: parsed.access_token,
      renewAt: askedAt + lifetimeMs - Math.min(MAX_MARGIN_MS, lifetimeMs / 10),
      expiresAt: askedAt + lifetimeMs
    }
    this.#token = token
    this.#obtained = true
    this.#failedRenewals = 0
    this.#nextRenewalAt = 0
    return token
  }
}

/** `expires_in` as Kopo Kopo sent it: seconds as a number or numeric text; anything else, or none, is the default. */
function lifetimeSeconds (value: unknown): number {
  const seconds = typeof value === 'number'
    ? value
    : typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN
  return seconds > 0 && Number.isFinite(seconds) ? seconds : DEFAULT_TOKEN_LIFETIME_S
}
