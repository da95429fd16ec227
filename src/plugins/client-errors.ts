import { randomUUID } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { problemType } from '../errors.js'
import { PROBLEM_CACHE_CONTROL, PROBLEM_CONTENT_TYPE } from '../problem.js'

// What Node's HTTP parser refuses before any route sees it. A request id is
// made up here because there is no request object to carry one.
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request header fields too large'],
  HPE_URI_TOO_LONG: [414, 'URI too long'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request timeout']
}
const UNREADABLE = 'The HTTP request could not be read.'
// A well-formed request line whose method the parser does not know names a
// method the service does not implement (RFC 9110 §9.1: 501); a known one it
// does not serve is a 405, from the router. Anything else is unreadable.
const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^\s]+ HTTP\/1\.[01]\r?\n/
const NOT_IMPLEMENTED: [number, string, string] = [501, 'Not implemented', 'The request method is not one this service implements.']

// Node attaches the bytes the parser choked on (Fastify types them as their JSON form).
type ParserError = Error & { code?: string, rawPacket?: unknown, bytesParsed?: number }

/** The line the parser stopped in: the bytes may hold requests pipelined before it. */
function lineAt (bytes: Buffer, offset: number): string {
  const text = bytes.toString('latin1')
  return text.slice(text.lastIndexOf('\n', offset - 1) + 1)
}

function classify (err: ParserError): [number, string, string] {
  if (err.code === 'HPE_INVALID_METHOD' && Buffer.isBuffer(err.rawPacket) && REQUEST_LINE.test(lineAt(err.rawPacket, err.bytesParsed ?? 0))) {
    return NOT_IMPLEMENTED
  }
  const [status, title] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad request']
  return [status, title, UNREADABLE]
}

type ClientErrorHandler = (this: FastifyInstance, err: ParserError, socket: Socket) => void

// Node's own record of the answer a connection is writing (or is next to
// write); the queued ones after it take its place as each finishes. Private,
// but what Node's default handler consults for the same decision. Should it
// ever go, a refusal is written at once, as it was before.
type AnsweringSocket = Socket & { _httpMessage?: EventEmitter | null }

// Connections whose refusal already waits for the answers before it: the
// parser reports each chunk that arrives after its error again.
const refusing = new WeakSet<Socket>()

/**
 * Fastify's clientErrorHandler: answers malformed requests with a problem
 * document (with the API's security headers, as any answer) when the socket
 * can still take one, reports each refusal sent to `onRefused` (for the
 * metrics), and logs at debug only, so a scanner cannot flood the logs with
 * parser stack traces. A request pipelined behind answers still
 * being made is refused after them: written at once, the refusal would reach
 * the client as the answer to the first of them, and the rest would be lost.
 */
export function clientErrorHandler (securityHeaders: Record<string, string>, onRefused: (status: number) => void): ClientErrorHandler {
  const extra = Object.entries(securityHeaders).map(([name, value]) => `${name}: ${value}\r\n`).join('')
  return function (err, socket) {
    const [status, title, detail] = classify(err)
    if (err.code === 'ECONNRESET' || !socket.writable) {
      this.log.debug({ code: err.code, status }, 'client error')
      socket.destroy()
      return
    }
    if (refusing.has(socket)) return
    refusing.add(socket)
    const requestId = randomUUID()
    // With the id the client received, so a report can be matched to this line.
    this.log.debug({ requestId, code: err.code, status }, 'client error')
    afterPendingAnswers(socket, () => {
      if (!socket.writable) return
      socket.end(rawProblem(status, title, detail, requestId, extra))
      // No hook runs for these, so the access log's metrics never see them.
      onRefused(status)
    })
  }
}

function afterPendingAnswers (socket: AnsweringSocket, then: () => void): void {
  const answer = socket._httpMessage
  if (answer == null) return then()
  // Node hands the socket to the next queued answer as this one finishes, before 'close'.
  answer.once('close', () => { afterPendingAnswers(socket, then) })
}

function rawProblem (status: number, title: string, detail: string, requestId: string, extraHeaders: string): string {
  const body = JSON.stringify({ type: problemType(`http-${status}`), title, status, detail, requestId })
  return `HTTP/1.1 ${status} ${title}\r\n` +
    // Every answer from a server with a clock carries one (RFC 9110 §6.6.1).
    `Date: ${new Date().toUTCString()}\r\n` +
    `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `Cache-Control: ${PROBLEM_CACHE_CONTROL}\r\n` +
    `X-Request-Id: ${requestId}\r\n` +
    extraHeaders +
    'Connection: close\r\n\r\n' + body
}
