import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { UnauthorizedError } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Short, non-reversible id of the API key used, when it was valid. */
    apiKeyId: string | null
  }
  interface FastifyInstance {
    /** preHandler for routes that need a key; undefined when no keys are configured. */
    requireApiKey: ((request: FastifyRequest) => Promise<void>) | undefined
  }
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest()

// Answers depend on the key presented (see the hook below).
const VARY = 'Authorization, X-API-Key'

/**
 * Optional API keys. Only their SHA-256 digests stay in memory, and a
 * presented key is compared against every digest in constant time, so neither
 * memory dumps nor response timing give a key away.
 */
export default fp(async function apiKeysPlugin (app: FastifyInstance, options: { keys: string[] }) {
  const digests = options.keys.map(sha256)
  app.decorateRequest('apiKeyId', null)
  // With no keys configured the service is open: no hook runs at all.
  app.decorate('requireApiKey', digests.length === 0 ? undefined : requireApiKey)
  if (digests.length === 0) return

  // Identify early (onRequest) so the rate limit can key on the API key; refuse
  // later, in requireApiKey, so that wrong keys still count against the IP.
  app.addHook('onRequest', (request, reply, done) => {
    // An answer depends on the key presented: a browser must not hand a page
    // the 200 it cached for a keyed request when the page asks without one.
    // (Set before CORS's hook, which adds Origin to it.)
    reply.header('vary', VARY)
    const presented = presentedKey(request)
    if (presented !== undefined) {
      const digest = sha256(presented)
      let match = false
      for (const known of digests) match = timingSafeEqual(known, digest) || match
      if (match) request.apiKeyId = digest.toString('hex').slice(0, 16)
    }
    done()
  })
}, { name: 'api-keys' })

async function requireApiKey (request: FastifyRequest): Promise<void> {
  if (request.apiKeyId !== null) return
  throw presentedKey(request) === undefined
    ? new UnauthorizedError('An API key is required: send Authorization: Bearer <key> or X-API-Key: <key>.', false)
    : new UnauthorizedError('The API key is not valid.', true)
}

// X-API-Key, when sent, is the key: an Authorization header beside it may be
// meant for something else on the way (a proxy's own credentials).
function presentedKey (request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key']
  if (typeof header === 'string' && header !== '') return header
  const auth = request.headers.authorization
  const match = auth === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(auth)
  return match?.[1]
}
