import { writeFile } from 'node:fs/promises'
import { renderOpenApi } from './openapi-document.js'

// `npm run openapi`: regenerates the committed openapi/openapi.json from the
// route schemas. test/openapi.test.ts fails when the two drift apart.
const target = new URL('../../openapi/openapi.json', import.meta.url)
await writeFile(target, await renderOpenApi())
process.stdout.write('wrote openapi/openapi.json\n')
