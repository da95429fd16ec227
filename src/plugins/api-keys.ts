import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
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
    /** The id of the valid key these headers present, else null; undefined when no keys are configured. */
    identifyKey: ((headers: IncomingHttpHeaders) => string | null) | undefined
  }
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest()

// Answers depend on the key presented (see the hook below).
export const VARY = 'Authorization, X-API-Key'

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
  app.decorate('identifyKey', digests.length === 0 ? undefined : identifyKey)
  if (digests.length === 0) return

  // Identify early (onRequest) so the rate limit can key on the API key; refuse
  // later, in requireApiKey, so that wrong keys still count against the IP.
  app.addHook('onRequest', (request, reply, done) => {
    // An answer depends on the key presented: a browser must not hand a page
    // the 200 it cached for a keyed request when the page asks without one.
    // (Set before CORS's hook, which adds Origin to it.)
    reply.header('vary', VARY)
    request.apiKeyId = identifyKey(request.headers)
    done()
  })

  function identifyKey (headers: IncomingHttpHeaders): string | null {
    const presented = presentedKey(headers)
    if (presented === undefined) return null
    const digest = sha256(presented)
    let match = false
    for (const known of digests) match = timingSafeEqual(known, digest) || match
    return match ? digest.toString('hex').slice(0, 16) : null
  }
}, { name: 'api-keys' })

async function requireApiKey (request: FastifyRequest): Promise<void> {
  if (request.apiKeyId !== null) return
  throw presentedKey(request.headers) === undefined
    ? new UnauthorizedError('An API key is required: send Authorization: Bearer <key> or X-API-Key: <key>.', false)
    : new UnauthorizedError('The API key is not valid.', true)
}

// X-API-Key, when sent, is the key: an Authorization header beside it may be
// meant for something else on the way (a proxy's own credentials).
function presentedKey (headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-api-key']
  if (typeof header === 'string' && header !== '') return header
  const auth = headers.authorization
  const match = auth === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(auth)
  return match?.[1]
}
