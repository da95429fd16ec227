import { executionAsyncResource } from 'node:async_hooks'

// Imported first by server.ts and app.ts, so that it runs before the rest of
// the service is loaded and built.
//
// Node queues each process.nextTick callback as an object literal keyed by two
// symbols, and its HTTP server calls nextTick about eight times per request.
// V8 defines those keys quickly only while the code doing it has seen a single
// object shape there, and it holds the shapes it has seen only weakly. A full
// GC that finds no entry queued (the service's start-up runs several) frees
// them; the next entry gets a new shape, V8 marks the spot megamorphic for good,
// and from then on every nextTick defines its keys through V8's runtime: about
// 300 ns a call instead of 45, some 2.7 µs of a cache hit's 30 on Node 20, and
// Node 24 does the same. Holding one entry keeps its shape alive. (See the
// bench README's *nextTick's shape*.)
let held: object | undefined
process.nextTick(() => { held = executionAsyncResource() })

/** The nextTick entry held for the life of the process (undefined until the first tick has run). */
export function heldTickEntry (): object | undefined {
  return held
}
