import closeWithGrace from 'close-with-grace'
import { loadEnvFile } from '../env-file.js'
import { startSimulator } from './app.js'
import { readSimulatorEnv } from './cli-config.js'

// The standalone simulator, for docker-compose: `npm run simulator`.
// The only simulator file that touches process.* (with ../env-file.ts).

let config
try {
  // The same .env as `npm start` reads (.env.example has a section for this).
  loadEnvFile()
  config = readSimulatorEnv(process.env)
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`)
  process.exit(1)
}

const simulator = await startSimulator(config).catch((error: Error) => {
  process.stderr.write(`Kopo Kopo simulator could not start: ${error.message}\n`)
  process.exit(1)
})

// One JSON line, so scripts and tests can read the actual URL (port 0 picks one).
process.stdout.write(`${JSON.stringify({
  msg: 'Kopo Kopo simulator listening',
  pid: process.pid,
  url: simulator.url,
  ids: simulator.ids
})}\n`)

closeWithGrace({ delay: 5000 }, async ({ err }) => {
  if (err !== undefined) process.stderr.write(`Kopo Kopo simulator failed: ${err.message}\n`)
  await simulator.close()
})
