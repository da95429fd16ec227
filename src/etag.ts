import { hash } from 'node:crypto'

// Validators for answers computed once and sent many times: the payment-link
// cache's entries and the OpenAPI document.

/** A strong validator for the exact bytes served. */
export function etagFor (body: Buffer): string {
  return `"${hash('sha256', body, 'base64url').slice(0, 27)}"`
}

/** Weak comparison (RFC 9110 §13.1.2): `W/` prefixes and lists match, as does `*`. */
export function matchesEtag (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  if (ifNoneMatch.trim() === '*') return true
  return ifNoneMatch.split(',').some(tag => tag.trim().replace(/^W\//, '') === etag)
}
