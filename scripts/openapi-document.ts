import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

/** The OpenAPI document exactly as the service serves it at /openapi.json, with the default configuration. */
export async function renderOpenApi (): Promise<string> {
  // The document does not depend on the upstream, so placeholder credentials do.
  const config = loadConfig({ K2_CLIENT_ID: 'placeholder', K2_CLIENT_SECRET: 'placeholder', LOG_LEVEL: 'silent' })
  const app = await buildApp(config)
  try {
    await app.ready()
    return `${JSON.stringify(app.swagger(), null, 2)}\n`
  } finally {
    await app.close()
  }
}
