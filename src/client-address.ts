import type { IncomingMessage } from 'node:http'
import proxyAddr from '@fastify/proxy-addr'
import type { TrustProxy } from './config.js'

export type TrustFunction = (address: string, hop: number) => boolean

/**
 * How much of a client's address the service keeps (in the log, as a budget's
 * key). An address is at most 45 characters; with TRUST_PROXY=true a client may
 * write anything in X-Forwarded-For, up to the parser's 16 KiB of headers.
 */
export const MAX_CLIENT_LENGTH = 64

/**
 * TRUST_PROXY as one trust function, handed to Fastify (request.ip) and used
 * by the cache-hit fast path alike, so both name the same client: the peer
 * itself, or the last address in X-Forwarded-For that a trusted proxy added.
 */
export function trustFunction (trust: TrustProxy): TrustFunction | false {
  if (trust === false) return false
  if (trust === true) return () => true
  // A hop count means: trust that many proxies in front of us (proxy-addr's hop index).
  if (typeof trust === 'number') return (_address, hop) => hop < trust
  return proxyAddr.compile(trust)
}

/** The client's address as Fastify's request.ip gives it for the same trust. */
export function clientAddress (raw: IncomingMessage, trust: TrustFunction | false): string | undefined {
  if (trust === false) return raw.socket.remoteAddress
  const chain = proxyAddr.all(raw, trust)
  return chain[chain.length - 1]
}
