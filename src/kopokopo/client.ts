import { UpstreamAuthError, UpstreamBadResponseError } from '../errors.js'
import type { Deadline } from './deadline.js'
import { checkPaymentLinkResponse, mismatch, parseJson, upstreamMessage, type PaymentLinkResponse } from './schemas.js'
import type { TokenProvider } from './token-provider.js'
import type { Upstream, UpstreamResponse } from './upstream.js'

export type PaymentLinkLookup =
  | { found: true, link: PaymentLinkResponse, upstream: UpstreamResponse }
  | { found: false, upstream: UpstreamResponse }

const USER_AGENT = 'k2-payment-links-bff'

/**
 * The payment-link status call. The id is validated by the caller and the URL
 * is always built here: a caller never chooses where the bearer token goes.
 */
export class KopoKopoClient {
  readonly #upstream: Upstream
  readonly #tokens: TokenProvider

  constructor (upstream: Upstream, tokens: TokenProvider) {
    this.#upstream = upstream
    this.#tokens = tokens
  }

  async getPaymentLink (id: string, deadline: Deadline): Promise<PaymentLinkLookup> {
    let token = await this.#tokens.get(deadline)
    let response = await this.#getOnce(id, token, deadline)
    if (response.status === 401) {
      // Kopo Kopo revoked or expired the token early: one fresh token, one more
      // try. A 401 to a token it has just issued is not the token's fault: it
      // is kept, rather than make every request fetch two.
      token = await this.#tokens.get(deadline)
      response = await this.#getOnce(id, token, deadline, false)
      if (response.status === 401) throw new UpstreamAuthError(401, upstreamMessage(response.body, [token]), 'fresh token')
    }
    if (response.status === 404) return { found: false, upstream: response }
    if (response.status !== 200) {
      throw new UpstreamBadResponseError(`Kopo Kopo answered ${response.status}.`, {
        upstreamStatus: response.status, reason: upstreamMessage(response.body, [token])
      })
    }
    const parsed = parseJson(response.body)
    if (parsed === undefined) {
      throw new UpstreamBadResponseError('Kopo Kopo sent an answer that is not JSON.', { upstreamStatus: 200 })
    }
    if (!checkPaymentLinkResponse.Check(parsed)) {
      throw new UpstreamBadResponseError('Kopo Kopo sent a payment link of the wrong shape.', {
        upstreamStatus: 200, reason: mismatch(checkPaymentLinkResponse, parsed)
      })
    }
    if (parsed.data.id.toLowerCase() !== id) {
      throw new UpstreamBadResponseError('Kopo Kopo sent a payment link of the wrong shape.', {
        upstreamStatus: 200, reason: '/data/id is another link\'s'
      })
    }
    return { found: true, link: parsed, upstream: response }
  }

  async #getOnce (id: string, token: string, deadline: Deadline, dropOn401 = true): Promise<UpstreamResponse> {
    const response = await this.#upstream.send('status', {
      method: 'GET',
      path: `/api/v2/payment_links/${encodeURIComponent(id)}`,
      headers: { accept: 'application/json', authorization: `Bearer ${token}`, 'user-agent': USER_AGENT }
    }, deadline)
    if (response.status === 401 && dropOn401) this.#tokens.invalidate(token)
    return response
  }
}
