import { connect } from 'node:net'

/** Writes `text` on a new connection and resolves with everything the server sends until it closes it. */
export async function exchange (port: number, text: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.on('data', chunk => { answer += String(chunk) })
    socket.on('close', () => { resolve(answer) })
    socket.on('error', reject)
    socket.write(text)
  })
}
