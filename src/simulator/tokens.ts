import { randomBytes } from 'node:crypto'

// Bounds memory when a load test asks for tokens in a loop; the oldest tokens
// are forgotten first and then answer as unknown, like revoked ones.
const MAX_TOKENS = 10_000

export type TokenCheck = 'valid' | 'expired' | 'unknown'

export interface TokenStore {
  issue (): string
  check (token: string): TokenCheck
}

export function createTokenStore (ttlSeconds: number, now: () => number): TokenStore {
  const expiries = new Map<string, number>()
  return {
    issue () {
      // 32 random bytes make 43 url-safe characters, like Doorkeeper's tokens.
      const token = randomBytes(32).toString('base64url')
      expiries.set(token, now() + ttlSeconds * 1000)
      if (expiries.size > MAX_TOKENS) {
        const oldest = expiries.keys().next().value
        if (oldest !== undefined) expiries.delete(oldest)
      }
      return token
    },
    check (token) {
      const expiresAt = expiries.get(token)
      if (expiresAt === undefined) return 'unknown'
      return now() < expiresAt ? 'valid' : 'expired'
    }
  }
}
