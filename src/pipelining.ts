import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyReply, FastifyRequest } from 'fastify'

// HTTP/1.1 pipelining, bounded. Node hands the app every request a client
// writes ahead of reading its answers, and each answer then waits in memory
// behind the one before it: a client that pipelines thousands of requests on
// a few connections and never reads filled the heap in seconds (/openapi.json
// is 19 KB an answer), and on Node 20 each queued /docs file kept its
// descriptor open for good. So a request queued behind an unfinished answer is
// not handled until its turn comes (it holds no answer, file or upstream call
// meanwhile), and a connection with more than this many waiting is closed.
// Browsers and HTTP clients do not pipeline; a polling page never comes close.
export const MAX_QUEUED_REQUESTS = 16

const queuedOn = new WeakMap<Socket, number>()
const closing = new WeakSet<Socket>()

/**
 * Ends the connection with this request's answer (`Connection: close`): no
 * request pipelined after it is handled. Node alone would still hand the app
 * one it parses after that answer has gone (it reads on, to discard a body).
 */
export function closeAfterAnswer (request: FastifyRequest, reply: FastifyReply): void {
  reply.header('connection', 'close')
  closing.add(request.raw.socket)
}

/** Whether this request must wait for the answers before it on its connection, or not be handled at all. */
export function mustWait (req: IncomingMessage, res: ServerResponse): boolean {
  // Node gives a response its socket once every answer before it has gone.
  return res.socket === null || closing.has(req.socket)
}

/**
 * Calls `next` when the request's turn comes; never, when its connection is
 * closing; closes the connection when too many are waiting. A request never
 * handled is not logged; the closing is.
 */
export function awaitTurn (request: FastifyRequest, reply: FastifyReply, next: () => void): void {
  const socket = request.raw.socket
  if (closing.has(socket)) return
  const queued = (queuedOn.get(socket) ?? 0) + 1
  if (queued > MAX_QUEUED_REQUESTS) {
    if (!socket.destroyed) {
      request.log.warn({ queued: queued - 1 }, 'closing a connection that pipelines more requests than it reads answers')
      socket.destroy()
    }
    return
  }
  queuedOn.set(socket, queued)
  reply.raw.once('socket', () => {
    queuedOn.set(socket, (queuedOn.get(socket) ?? 1) - 1)
    next()
  })
}
