import { hash } from 'node:crypto'

// Validators for answers computed once and sent many times: the payment-link
// cache's entries and the OpenAPI document.

/** A strong validator for the exact bytes served. */
export function etagFor (body: Buffer): string {
  return `"${hash('sha256', body, 'base64url').slice(0, 27)}"`
}

/** If-None-Match's weak comparison (RFC 9110 §13.1.2): `W/` prefixes and lists match, as does `*`. */
export function matchesEtag (ifNoneMatch: string | undefined, etag: string): boolean {
  return ifNoneMatch !== undefined && listed(ifNoneMatch, etag, true)
}

/**
 * If-Match's strong comparison (RFC 9110 §13.1.1): `*` or this very tag in the
 * list; a weak tag (`W/"..."`) never matches. Only for an answer that exists.
 */
export function matchesStrongly (ifMatch: string, etag: string): boolean {
  return listed(ifMatch, etag, false)
}

// `*` counts wherever it stands in the list: Node joins a header sent twice
// (`*` twice makes `*, *`).
function listed (header: string, etag: string, weak: boolean): boolean {
  return header.split(',').some(entry => {
    const tag = entry.trim()
    return tag === '*' || (weak ? tag.replace(/^W\//, '') : tag) === etag
  })
}
