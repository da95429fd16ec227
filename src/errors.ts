// Typed errors carry their HTTP status and a stable code; one handler
// (src/plugins/errors.ts, with src/problem.ts) turns them into RFC 9457 problem details. The
// `detail` is written for the caller: it never holds upstream bodies, tokens,
// secrets or stack traces.

export interface AppErrorOptions {
  detail?: string
  /** Seconds the caller should wait before trying again (sets Retry-After). */
  retryAfter?: number
  /** What Kopo Kopo answered, for Cache-Status and logs; never sent raw. */
  upstreamStatus?: number
  /** Why, in terms only an operator needs (a transport error's code, the field an answer got wrong): logged, never sent. */
  reason?: string
  /**
   * Whether a call to Kopo Kopo went out for the request (RFC 9211's `fwd`): not
   * when the circuit or a pause held it back, a refusal moments ago was told
   * again, or its deadline ended while it waited for a connection. Default true.
   */
  forwarded?: boolean
  cause?: unknown
}

/** Every code an AppError may carry: the compiler holds each error to this list, which the OpenAPI document shows. */
export const PROBLEM_CODES = [
  'INVALID_ID', 'BAD_REQUEST_TARGET', 'BODY_NOT_ALLOWED', 'MISSING_HOST', 'INVALID_HOST', 'UNAUTHORIZED', 'LINK_NOT_FOUND', 'NOT_FOUND', 'METHOD_NOT_ALLOWED',
  'PRECONDITION_FAILED', 'URI_TOO_LONG',
  'RATE_LIMITED', 'UPSTREAM_BAD_RESPONSE', 'UPSTREAM_AUTH_REJECTED', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT'
] as const
export type ProblemCode = typeof PROBLEM_CODES[number]

export const PROBLEM_TYPE_PREFIX = 'urn:k2-bff:problem:'
/** The last part of a problem `type` URI: `LINK_NOT_FOUND` → `link-not-found`. */
export const problemName = (code: string): string => code.toLowerCase().replaceAll('_', '-')
/** The problem `type` URI of a code. */
export const problemType = (code: string): string => PROBLEM_TYPE_PREFIX + problemName(code)

export class AppError extends Error {
  readonly statusCode: number
  readonly code: ProblemCode
  readonly title: string
  readonly detail: string
  readonly retryAfter: number | undefined
  readonly upstreamStatus: number | undefined
  readonly reason: string | undefined
  readonly forwarded: boolean

  constructor (statusCode: number, code: ProblemCode, title: string, options: AppErrorOptions = {}) {
    super(options.detail ?? title, { cause: options.cause })
    this.name = new.target.name
    this.statusCode = statusCode
    this.code = code
    this.title = title
    this.detail = options.detail ?? title
    this.retryAfter = options.retryAfter
    this.upstreamStatus = options.upstreamStatus
    this.reason = options.reason
    this.forwarded = options.forwarded ?? true
  }

  /** The problem `type` URI: stable, documented in the OpenAPI document. */
  get type (): string {
    return problemType(this.code)
  }
}

export class InvalidIdError extends AppError {
  constructor (detail = 'The payment link id must be a UUID.') {
    super(400, 'INVALID_ID', 'Invalid payment link id', { detail })
  }
}

export class LinkNotFoundError extends AppError {
  constructor (id: string) {
    super(404, 'LINK_NOT_FOUND', 'Payment link not found', {
      detail: `Kopo Kopo has no payment link with id ${id}.`,
      upstreamStatus: 404
    })
  }
}

/** Kopo Kopo answered, but not with something we can use. */
export class UpstreamBadResponseError extends AppError {
  constructor (detail: string, options: Omit<AppErrorOptions, 'detail'> = {}) {
    super(502, 'UPSTREAM_BAD_RESPONSE', 'Kopo Kopo answered wrongly', { ...options, detail })
  }
}

/** Kopo Kopo refused our client credentials: an operator must fix the configuration. */
export class UpstreamAuthError extends AppError {
  /** `refused` names what Kopo Kopo refused: the client credentials (the token call), or a token it had just issued (the status call). */
  constructor (upstreamStatus: number, reason: string | undefined, refused: 'credentials' | 'fresh token' = 'credentials', forwarded = true) {
    super(502, 'UPSTREAM_AUTH_REJECTED', 'Kopo Kopo rejected the service credentials', {
      detail: refused === 'credentials'
        ? 'Kopo Kopo refused this service\'s client credentials; the operator has been alerted in the logs.'
        : 'Kopo Kopo refused an access token it had just issued to this service; the operator has been alerted in the logs.',
      upstreamStatus,
      reason,
      forwarded
    })
  }
}

export class UpstreamTimeoutError extends AppError {
  /** reason: for the operator's log line, when the deadline ran out before a call could go out. */
  constructor (timeoutMs: number, reason?: string, forwarded = true) {
    super(504, 'UPSTREAM_TIMEOUT', 'Kopo Kopo did not answer in time', {
      detail: `Kopo Kopo did not answer within ${timeoutMs} ms.`,
      reason,
      forwarded
    })
  }
}

/** Upstream is known to be down or throttling us: try again later. */
export class UpstreamUnavailableError extends AppError {
  constructor (detail: string, options: Omit<AppErrorOptions, 'detail' | 'retryAfter'> & { retryAfter: number }) {
    super(503, 'UPSTREAM_UNAVAILABLE', 'Kopo Kopo is unavailable', { ...options, detail })
  }
}

/** The call was held back: Kopo Kopo's last Retry-After has not run out (kopokopo/upstream.ts). */
export class UpstreamPausedError extends UpstreamUnavailableError {
  constructor (retryAfter: number, forwarded: boolean) {
    super('Kopo Kopo asked for a pause in calls; try again later.', { retryAfter, forwarded })
  }
}

/**
 * Refused before it waited: every connection to Kopo Kopo is taken, and at the
 * pace of its answers lately this request would not get one with time left
 * for its call (kopokopo/upstream.ts). Told at once, not at its deadline.
 */
export class UpstreamBusyError extends UpstreamUnavailableError {
  constructor (retryAfter: number, forwarded: boolean, reason: string) {
    super('Every connection to Kopo Kopo is busy, and this request would not get its turn in time; try again later.',
      { retryAfter, forwarded, reason })
  }
}

export class UnauthorizedError extends AppError {
  /** A key was sent, and it is not one of ours (RFC 6750's `invalid_token`), rather than none sent. */
  readonly keyRejected: boolean

  constructor (detail: string, keyRejected: boolean) {
    super(401, 'UNAUTHORIZED', 'Unauthorized', { detail })
    this.keyRejected = keyRejected
  }
}

export class RateLimitedError extends AppError {
  constructor (retryAfter: number) {
    super(429, 'RATE_LIMITED', 'Too many requests', {
      detail: `Request budget used up; try again in ${retryAfter} s.`,
      retryAfter
    })
  }
}

export class NotFoundError extends AppError {
  constructor (method: string, path: string) {
    super(404, 'NOT_FOUND', 'Not found', { detail: `No route for ${method} ${path}.` })
  }
}

/** If-Match named no ETag the answer has (RFC 9110 §13.1.1): the link is in none of the states the caller named. */
export class PreconditionFailedError extends AppError {
  constructor () {
    super(412, 'PRECONDITION_FAILED', 'Precondition failed', {
      detail: 'The payment link\'s current ETag is not among those sent in If-Match.'
    })
  }
}

export const MAX_URL_LENGTH = 2048

export class UriTooLongError extends AppError {
  constructor () {
    super(414, 'URI_TOO_LONG', 'URI too long', { detail: `Request targets are limited to ${MAX_URL_LENGTH} characters.` })
  }
}

/** A request target the router cannot read (Fastify's own message would quote it whole, query and userinfo included). */
export class BadRequestTargetError extends AppError {
  constructor () {
    super(400, 'BAD_REQUEST_TARGET', 'Invalid request target', { detail: 'The request target is not a valid URL.' })
  }
}

export class BodyNotAllowedError extends AppError {
  constructor () {
    super(400, 'BODY_NOT_ALLOWED', 'Request body not allowed', { detail: 'This API takes no request body.' })
  }
}

export class MissingHostError extends AppError {
  constructor () {
    super(400, 'MISSING_HOST', 'Host header required', { detail: 'An HTTP/1.1 request must name its host in a Host header.' })
  }
}

export class InvalidHostError extends AppError {
  constructor () {
    super(400, 'INVALID_HOST', 'Invalid Host header', { detail: 'A request names its host in one Host header: a host name or address, and an optional port.' })
  }
}

export class MethodNotAllowedError extends AppError {
  readonly allow: string
  constructor (method: string, allow: string) {
    super(405, 'METHOD_NOT_ALLOWED', 'Method not allowed', { detail: `${method} is not allowed here; use ${allow}.` })
    this.allow = allow
  }
}

/** What a log line says of an error: an AppError's code, Kopo Kopo's status and the reason, never a body; anything else whole. */
export function logFields (err: unknown): Record<string, unknown> {
  return err instanceof AppError ? { code: err.code, upstreamStatus: err.upstreamStatus, reason: err.reason } : { err }
}

/** True for upstream failures during which a stale cached answer beats an error. */
export function isUpstreamOutage (err: unknown): boolean {
  return err instanceof UpstreamTimeoutError ||
    err instanceof UpstreamUnavailableError ||
    (err instanceof UpstreamBadResponseError && (err.upstreamStatus === undefined || err.upstreamStatus >= 500))
}
