import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { heldTickEntry } from '../src/tick-shape.js'
import { outsideRunnerHooks } from './helpers/process.js'

// src/tick-shape.ts holds one of Node's nextTick entries so that V8 keeps
// defining their keys through its fast path after full GCs. The second test
// looks at that fast path's feedback itself, through V8's %DebugPrint, in a
// process that loads the built app and then runs nextTick bursts between full
// GCs. Without the held entry, that process on Node 20 ends with the entry's
// key definitions MEGAMORPHIC (every run tried); with it, none.

const APP_JS = fileURLToPath(new URL('../dist/src/app.js', import.meta.url))
const SLOT = /DefineKeyedOwnPropertyInLiteral (\w+)/g

t.test('the held entry is one of nextTick\'s own', async t => {
  await new Promise(resolve => process.nextTick(resolve))
  const entry = heldTickEntry() as { callback?: unknown } | undefined
  t.type(entry, 'object')
  const keys = Object.getOwnPropertySymbols(entry).map(symbol => symbol.description)
  t.ok(keys.includes('async_id_symbol'), 'keyed by its async id')
  t.ok(keys.includes('trigger_async_id_symbol'), 'and by its trigger id')
  t.type(entry?.callback, 'function')
})

t.test('full GCs leave nextTick defining its entries\' keys on the fast path', async t => {
  if (!existsSync(APP_JS)) throw new Error(`${APP_JS} is missing: run \`npm run build\` first (\`npm test\` does)`)
  const script = `
    await import(${JSON.stringify(pathToFileURL(APP_JS).href)})
    const noop = () => {}
    const burst = async () => {
      for (let r = 0; r < 300; r++) {
        for (let i = 0; i < 100; i++) process.nextTick(noop, i, r)
        await new Promise(resolve => setImmediate(resolve))
      }
    }
    for (let cycle = 0; cycle < 12; cycle++) {
      await burst()
      globalThis.gc()
      await new Promise(resolve => setImmediate(resolve))
    }
    await burst()
    new Function('f', '%DebugPrint(f)')(process.nextTick)
  `
  // V8 prints to the process's own stdout, unflushed when it exits onto a
  // pipe: a file takes it whole.
  const dir = await mkdtemp(join(tmpdir(), 'k2-bff-tick-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const out = await open(join(dir, 'debug-print.txt'), 'w')
  // Under the test runner's hooks the child is not the process the service runs as.
  const child = spawn(...outsideRunnerHooks({ PATH: process.env.PATH ?? '' }, [
    process.execPath, '--allow-natives-syntax', '--expose-gc', '--input-type=module', '--eval', script
  ]), { stdio: ['ignore', out.fd, 'inherit'] })
  const [code] = await once(child, 'exit') as [number | null]
  await out.close()
  t.equal(code, 0)
  const stdout = await readFile(join(dir, 'debug-print.txt'), 'utf8')
  const states = [...stdout.matchAll(SLOT)].map(match => match[1])
  t.ok(states.length >= 2, `V8 printed the key definitions' feedback (${states.length} slots)`)
  t.same(states.filter(state => state === 'MEGAMORPHIC'), [], `none megamorphic: ${states.join(', ')}`)
})
