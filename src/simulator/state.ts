import { createHash, timingSafeEqual } from 'node:crypto'
import type { StoredLink } from './links.js'
import { seedLinks } from './seed.js'
import { createTokenStore, type TokenStore } from './tokens.js'

export interface SimulatorOptions {
  clientId: string
  clientSecret: string
  tokenTtlSeconds?: number
  now?: () => number
  logger?: boolean
}

export interface SimulatorStats {
  tokenRequests: number
  statusRequests: number
}

export interface SimulatorState {
  now: () => number
  tokenTtlSeconds: number
  tokens: TokenStore
  // Keyed by the lowercased id: Kopo Kopo ids are UUIDs, matched in any case.
  links: Map<string, StoredLink>
  stats: SimulatorStats
  credentialsMatch (clientId: unknown, clientSecret: unknown): boolean
}

export const DEFAULT_TOKEN_TTL_SECONDS = 3600

export function createState (options: SimulatorOptions): SimulatorState {
  const now = options.now ?? Date.now
  const tokenTtlSeconds = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS
  const links = new Map(seedLinks(now()).map((link) => [link.id.toLowerCase(), link]))
  const expectedId = digest(options.clientId)
  const expectedSecret = digest(options.clientSecret)
  return {
    now,
    tokenTtlSeconds,
    tokens: createTokenStore(tokenTtlSeconds, now),
    links,
    stats: { tokenRequests: 0, statusRequests: 0 },
    credentialsMatch (clientId, clientSecret) {
      if (typeof clientId !== 'string' || typeof clientSecret !== 'string') return false
      // Hashing first gives equal lengths, so each comparison takes constant time.
      const idMatches = timingSafeEqual(digest(clientId), expectedId)
      const secretMatches = timingSafeEqual(digest(clientSecret), expectedSecret)
      return idMatches && secretMatches
    }
  }
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
