import { readFileSync } from 'node:fs'

// The Node flags of `npm start` (e.g. the heap ceiling), read from package.json,
// so that the tests and the benchmark run the service as operators do.
const PACKAGE_JSON = new URL('../../package.json', import.meta.url)
const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { scripts: { start: string } }

export const START_FLAGS = pkg.scripts.start.split(/\s+/).filter(word => word.startsWith('--'))
