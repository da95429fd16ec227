import type { FastifyInstance } from 'fastify'
import { OAuthError } from './errors.js'
import type { SimulatorState } from './state.js'

// Doorkeeper's wording, which is what Kopo Kopo runs.
const INVALID_CLIENT = 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.'
const UNSUPPORTED_GRANT = 'The authorization grant type is not supported by the authorization server.'

export async function oauthRoutes (app: FastifyInstance, { state }: { state: SimulatorState }) {
  // Kopo Kopo's SDKs post a form; JSON is accepted too, as Doorkeeper does.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => { done(null, Object.fromEntries(new URLSearchParams(body as string))) }
  )

  app.post('/oauth/token', async (request, reply) => {
    state.stats.tokenRequests++
    const body = isRecord(request.body) ? request.body : {}
    if (body.grant_type !== 'client_credentials') {
      throw new OAuthError(400, 'unsupported_grant_type', UNSUPPORTED_GRANT)
    }
    if (!state.credentialsMatch(body.client_id, body.client_secret)) {
      throw new OAuthError(401, 'invalid_client', INVALID_CLIENT)
    }
    // RFC 6749 section 5.1: token answers must not be cached.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    return {
      access_token: state.tokens.issue(),
      token_type: 'Bearer',
      expires_in: state.tokenTtlSeconds,
      created_at: Math.floor(state.now() / 1000)
    }
  })
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}
