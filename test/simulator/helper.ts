import type { Test } from 'tap'
import { request } from 'undici'
import { startSimulator, type Simulator, type StartSimulatorOptions } from '../../src/simulator/app.js'

// Shared set-up for the simulator's tests: a real simulator on a loopback
// port, a clock the test moves by hand, and helpers that speak HTTP to it.

// 2026-03-02 09:00:00.000 in Nairobi (UTC+3).
export const START = Date.parse('2026-03-02T06:00:00.000Z')
export const CREDENTIALS = { clientId: 'test-client-id', clientSecret: 'test-client-secret' }

export interface TestSimulator {
  sim: Simulator
  advance (ms: number): void
  token (): Promise<string>
  get (path: string, token?: string): Promise<Answer>
  post (path: string, body: unknown, token?: string): Promise<Answer>
}

export interface Answer {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: unknown
}

export async function startTestSimulator (
  t: Test,
  options: Partial<StartSimulatorOptions> = {}
): Promise<TestSimulator> {
  let clock = START
  const sim = await startSimulator({ ...CREDENTIALS, host: '127.0.0.1', now: () => clock, ...options })
  t.teardown(() => sim.close())

  const call = async (method: 'GET' | 'POST', path: string, body: unknown, token?: string): Promise<Answer> => {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await request(`${sim.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.body.text()
    return { statusCode: res.statusCode, headers: res.headers, text, json: text === '' ? undefined : JSON.parse(text) }
  }

  return {
    sim,
    advance (ms) { clock += ms },
    async token () {
      const res = await requestToken(sim.url, {
        client_id: CREDENTIALS.clientId,
        client_secret: CREDENTIALS.clientSecret,
        grant_type: 'client_credentials'
      })
      return (res.json as { access_token: string }).access_token
    },
    get: (path, token) => call('GET', path, undefined, token),
    post: (path, body, token) => call('POST', path, body, token)
  }
}

export async function requestToken (url: string, fields: Record<string, string>): Promise<Answer> {
  const res = await request(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(fields).toString()
  })
  const text = await res.body.text()
  return { statusCode: res.statusCode, headers: res.headers, text, json: JSON.parse(text) }
}
