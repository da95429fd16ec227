import type { FastifyInstance, FastifyRequest } from 'fastify'
import { parseCreateRequest } from './create-request.js'
import { ApiError } from './errors.js'
import { cancelLink, newLink, renderPaymentLink, type StoredLink } from './links.js'
import type { SimulatorState } from './state.js'

interface IdParams { id: string }

export async function paymentLinkRoutes (app: FastifyInstance, { state }: { state: SimulatorState }) {
  const requireBearer = async (request: FastifyRequest) => {
    const match = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '')
    const check = match?.[1] === undefined ? 'missing' : state.tokens.check(match[1])
    if (check === 'valid') return
    // RFC 6750 section 3: no error code when no token was sent at all.
    const challenge = check === 'missing' ? 'Bearer' : 'Bearer error="invalid_token"'
    const message = check === 'expired' ? 'Expired access token' : 'Invalid access token'
    throw new ApiError(401, message, { 'www-authenticate': challenge })
  }
  const countStatusRequest = async () => { state.stats.statusRequests++ }

  const find = (id: string): StoredLink => {
    const link = state.links.get(id.toLowerCase())
    if (link === undefined) throw new ApiError(404, 'Payment link not found')
    return link
  }

  app.get<{ Params: IdParams }>('/api/v2/payment_links/:id', {
    onRequest: [countStatusRequest, requireBearer]
  }, async (request) => renderPaymentLink(find(request.params.id), origin(request)))

  app.post('/api/v2/payment_links', { onRequest: requireBearer }, async (request, reply) => {
    const link = newLink(parseCreateRequest(request.body), state.now())
    state.links.set(link.id, link)
    return reply.code(201).header('location', `${origin(request)}/api/v2/payment_links/${link.id}`).send()
  })

  app.post<{ Params: IdParams }>('/api/v2/payment_links/:id/cancel', {
    onRequest: requireBearer
  }, async (request) => {
    const refusal = cancelLink(find(request.params.id), state.now())
    if (refusal !== undefined) throw new ApiError(400, refusal)
    return { message: 'Payment link cancelled.' }
  })
}

// The simulator's URL as the caller reached it, so that Location, self and
// absolute links work from the host, from a container and on port 0 alike.
function origin (request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`
}
