// The two error dialects Kopo Kopo speaks: the OAuth endpoints answer like
// Doorkeeper (`error`/`error_description`), the v2 API with
// `error_code`/`error_message`. Routes throw these; app.ts maps them once.

export class ApiError extends Error {
  readonly statusCode: number
  readonly headers: Record<string, string>

  constructor (statusCode: number, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.name = 'ApiError'
    this.statusCode = statusCode
    this.headers = headers
  }

  toJSON () {
    return { error_code: this.statusCode, error_message: this.message }
  }
}

export class OAuthError extends Error {
  readonly statusCode: number
  readonly error: string

  constructor (statusCode: number, error: string, description: string) {
    super(description)
    this.name = 'OAuthError'
    this.statusCode = statusCode
    this.error = error
  }

  toJSON () {
    return { error: this.error, error_description: this.message }
  }
}
