// First: see tick-shape.ts.
import './tick-shape.js'
import { ServerResponse, type IncomingMessage, type RequestListener } from 'node:http'
import type { Socket } from 'node:net'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { DestinationStream } from 'pino'
import type { Dispatcher } from 'undici'
import pkg from '../package.json' with { type: 'json' }
import { trustFunction } from './client-address.js'
import { systemClock, systemSleep, type Clock, type Sleep } from './clock.js'
import { MAX_TIMER_MS, type Config } from './config.js'
import { BadRequestTargetError, BodyNotAllowedError, InvalidHostError, InvalidIdError, MAX_URL_LENGTH, MissingHostError, UriTooLongError } from './errors.js'
import healthRoutes from './health/routes.js'
import { createKopoKopo } from './kopokopo/index.js'
import { createMetrics, type Metrics } from './metrics/metrics.js'
import { LinkCache } from './payment-links/cache.js'
import { fastPath } from './payment-links/fast-path.js'
import paymentLinkRoutes from './payment-links/route.js'
import { PaymentLinkService } from './payment-links/service.js'
import { awaitTurn, closeAfterAnswer, mustWait } from './pipelining.js'
import accessLog from './plugins/access-log.js'
import apiKeys from './plugins/api-keys.js'
import drain from './plugins/drain.js'
import errors, { isPaymentLinkPath, problemSender } from './plugins/errors.js'
import { clientErrorHandler } from './plugins/client-errors.js'
import rateLimit from './plugins/rate-limit.js'
import security, { securityHeaders } from './plugins/security.js'
import swagger from './plugins/swagger.js'
import { requestIdFor } from './request-id.js'
import { announcesBody, hostFault } from './request-framing.js'

// The `close` option among a Connection header's (RFC 9112 §9.6).
const CLOSE_OPTION = /(?:^|,)\s*close\s*(?:,|$)/i

export interface AppDeps {
  /** Transport to Kopo Kopo; by default a keep-alive pool owned (and closed) by the app. */
  dispatcher?: Dispatcher
  clock?: Clock
  sleep?: Sleep
  random?: () => number
  /** Where log lines go (stdout by default). */
  logStream?: DestinationStream
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
    cache: LinkCache
    /** Ends every connection and every call to Kopo Kopo at once: for a shutdown that ran out of time. */
    cutConnections: () => Promise<void>
  }
}

// How much longer than a wait on Kopo Kopo a connection may sit idle mid-request.
export const CLIENT_IDLE_MARGIN_MS = 10_000
// Past any request line Node's HTTP parser accepts with its default header limit.
const MAX_PARAM_LENGTH = 65_536
// Defence in depth: log lines are built from chosen fields only, but should a
// request or config object ever be logged, these never are.
// (Exact paths only: wildcard paths made every request's child logger dearer.)
const REDACT = ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'res.headers["set-cookie"]']

/** The whole service, not listening: the process concerns live in server.ts. */
export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const clock = deps.clock ?? systemClock
  const metrics = createMetrics({ build: { version: pkg.version, nodeVersion: process.version } })
  const headers = securityHeaders(config.corsOrigins)
  const sendProblem = problemSender(headers.api)
  const trust = trustFunction(config.trustProxy)
  // How long a connection may sit with a request open and no byte moving:
  // the longest wait on Kopo Kopo, and a margin (armed below).
  const idleMs = Math.min(config.upstream.timeoutMs + CLIENT_IDLE_MARGIN_MS, MAX_TIMER_MS)

  const app = Fastify({
    logger: { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' }, ...(deps.logStream ? { stream: deps.logStream } : {}) },
    // Fastify's request/response pair is replaced by one line (plugins/access-log.ts).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: requestIdFor,
    trustProxy: trust,
    clientErrorHandler: clientErrorHandler(headers.api, status => { metrics.countRefused(status) }),
    // Requests reaching us while closing go through the usual pipeline (plugins/drain.ts).
    return503OnClosing: false,
    // The client idle limit (below). Set here for any further server Fastify
    // builds from these options (one per address a host name like localhost
    // resolves to); the main server arms its own timers instead.
    connectionTimeout: idleMs,
    // An id is a path segment: let an overlong one reach the hooks (CORS, the
    // 414 below) and the route's own checks, rather than the router's refusal,
    // which runs no hook. Node's HTTP parser already bounds the request line
    // (16 KiB of headers by default).
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Node answers an HTTP/1.1 request without Host itself, with a bare 400
    // and no hook run: let it through to be refused as a problem (below).
    http: { requireHostHeader: false },
    // Malformed escapes and unreadable targets are caught by the router before
    // any hook; hand them to the one error handler, as bad ids on a payment
    // link's path, else as a fixed 400 (Fastify's would quote the target whole).
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id)
      if (announcesBody(request)) closeAfterAnswer(request, reply)
      sendProblem(request.url.length > MAX_URL_LENGTH
        ? new UriTooLongError()
        : error.code !== 'FST_ERR_BAD_URL'
          ? error
          : isPaymentLinkPath(request.url) ? new InvalidIdError() : new BadRequestTargetError(), request, reply)
      // No hook runs for these, the access log's included.
      request.server.logUnrouted(request, reply)
    }
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.decorate('metrics', metrics)
  // No route reads a body, and one that is announced is refused before any
  // parsing (below). Fastify's JSON parser would still run on an empty one,
  // and answer a POST that says `Content-Type: application/json` and sends
  // nothing (as a page's fetch() may) with a 400 of its own, ahead of the
  // 405 and the rate limit's count. A parser that reads nothing takes every
  // media type instead; set before any plugin, so every route inherits it.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
  // Node keeps only a request's first 1,000 or so header lines by default and
  // drops the rest unseen, so a second Host or a Content-Length placed after
  // them would slip past the checks below. The HTTP parser's header size limit
  // (16 KiB) still bounds what a request can send.
  app.server.maxHeadersCount = 0
  // Fresh cache hits are answered before Fastify's handler (payment-links/fast-path.ts),
  // once the app is built; until then, everything goes to Fastify. Its own
  // server is kept (a serverFactory would lose what Fastify does for it, such
  // as listening on every address a host name like localhost resolves to).
  let answerHit = (_req: IncomingMessage, _res: ServerResponse): boolean => false
  // The one listener Fastify gave the server it made.
  const fastifyHandler = app.server.listeners('request')[0] as RequestListener
  app.server.removeListener('request', fastifyHandler)
  // A connection with a request open and no byte moving either way is
  // closed: a client that sends nothing, or stopped reading its answer, would
  // otherwise hold it (and any file being sent) for good. The longest quiet
  // spell a live request has is its wait on Kopo Kopo. Once an answer has
  // gone, Node's keep-alive timer takes over until the next request.
  //
  // Not through server.timeout (Fastify's connectionTimeout) on this server:
  // Node then arms a new timer for every request on a kept-alive connection,
  // 4-5% of a cache hit's cost (`npm run bench`'s hit path, A/B). A hit's
  // answer is written at once, so it needs the timer only when the client is
  // not reading.
  app.server.timeout = 0
  app.server.on('connection', (socket: Socket) => { socket.setTimeout(idleMs) })
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Node keeps an HTTP/1.0 connection whose request asks for keep-alive even
    // when it says close too; RFC 9112 §9.3 puts close first.
    if (req.httpVersionMinor === 0 && res.shouldKeepAlive && CLOSE_OPTION.test(req.headers.connection ?? '')) res.shouldKeepAlive = false
    if (answerHit(req, res)) {
      if (req.socket.writableLength > 0) req.socket.setTimeout(idleMs)
    } else {
      req.socket.setTimeout(idleMs)
      fastifyHandler(req, res)
    }
  })
  // CONNECT asks for a tunnel: Node hands it to this event with the bare
  // socket, and without a listener drops the connection without a word, no
  // log line or count (an open-proxy probe left no trace). It is answered as
  // any other method the service does not serve, on an answer made for it.
  app.server.on('connect', (req: IncomingMessage, socket: Socket & { _httpMessage?: unknown }) => {
    // Pipelined behind an answer still to be written, it could not have the
    // socket (Node would throw): it is dropped with the connection, as before.
    if (socket._httpMessage != null) {
      socket.destroy()
      return
    }
    const res = new ServerResponse(req)
    res.shouldKeepAlive = false
    res.assignSocket(socket)
    res.once('finish', () => { socket.end() })
    socket.setTimeout(idleMs)
    fastifyHandler(req, res)
  })
  // No route takes a body: a client that asks leave to send one
  // (`Expect: 100-continue`) gets its refusal straight away, rather than
  // Node's automatic 100 Continue inviting the body first. One that announces
  // none gets its 100 as before (without it, Node would close the connection
  // after the answer). Any other expectation is ignored, as RFC 9110 allows,
  // rather than met with Node's bare 417.
  app.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!announcesBody(req)) res.writeContinue()
    app.server.emit('request', req, res)
  })
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => app.server.emit('request', req, res))

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    // A pipelined request is handled only when the answers before it have gone (pipelining.ts).
    if (mustWait(request.raw, reply.raw)) {
      awaitTurn(request, reply, () => { closeIfBody(request, reply, done) })
    } else {
      closeIfBody(request, reply, done)
    }
  })

  // Error handling and the access log come before any plugin that declares
  // routes (CORS declares its preflight route), so that every route answers
  // its errors as problems and is logged.
  await app.register(apiKeys, { keys: config.apiKeys })
  await app.register(rateLimit, { ...config.rateLimit, onExceeded: () => metrics.rateLimited.inc() })
  await app.register(errors, { sendProblem })
  await app.register(accessLog, { metrics })
  await app.register(security, { corsOrigins: config.corsOrigins, headers })
  // After CORS's hook, so that a page's script can read these refusals rather
  // than see a CORS failure. (CORS answers preflights itself, before this.)
  app.addHook('onRequest', (request, reply, done) => {
    if (request.url.length > MAX_URL_LENGTH) return done(new UriTooLongError())
    const host = hostFault(request.raw)
    if (host !== undefined) return done(host === 'missing' ? new MissingHostError() : new InvalidHostError())
    // No route takes a body; refusing one outright beats silently ignoring it.
    if (announcesBody(request)) return done(new BodyNotAllowedError())
    // Fastify would next judge the Content-Type of a request no route takes,
    // and answer `Content-Type: foo`, or QUERY without one, with a 415 or 400
    // of its own, ahead of the 405 and the rate limit's count.
    if (request.is404) {
      app.refuseUnrouted(request, reply).catch(done)
      return
    }
    done()
  })
  await app.register(swagger, { apiKeys: config.apiKeys.length > 0, version: pkg.version })

  const kopokopo = createKopoKopo(config, {
    dispatcher: deps.dispatcher, clock, sleep: deps.sleep ?? systemSleep, random: deps.random ?? Math.random, metrics, log: app.log
  })
  app.addHook('onClose', kopokopo.close)
  app.decorate('cutConnections', async () => {
    app.server.closeAllConnections()
    await kopokopo.destroy()
  })
  const cache = new LinkCache({
    maxEntries: config.cache.maxEntries, maxBytes: config.cache.maxBytes, clock, onEvict: () => { metrics.cacheEvictions.inc() }
  })
  metrics.watchCache(cache)
  app.decorate('cache', cache)
  const service = new PaymentLinkService({
    client: kopokopo.client,
    cache,
    clock,
    config: { ...config.cache, timeoutMs: config.upstream.timeoutMs, linkBaseUrl: config.upstream.linkBaseUrl ?? config.upstream.baseUrl },
    onCacheEvent: result => { metrics.countCacheEvent(result) }
  })

  await app.register(drain)
  await app.register(healthRoutes, { tokens: kopokopo.tokens, upstream: config.upstream.mode, timeoutMs: config.upstream.timeoutMs })
  await app.register(paymentLinkRoutes, { service })
  answerHit = fastPath({ app, service, securityHeaders: headers.api, trust })
  return app
}

/**
 * No route reads a body, and Node would keep the connection open to read an
 * unwanted one to its end, however slowly it comes (no request timeout
 * applies once the answer has gone): such a request's answer, whatever it is
 * (a refusal, a preflight's), ends its connection. Judged once it is the
 * request's turn on its connection, and before CORS may answer it.
 */
function closeIfBody (request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  if (announcesBody(request)) closeAfterAnswer(request, reply)
  done()
}
