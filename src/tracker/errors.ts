// Errors the HTTP layer turns into 4xx/5xx JSON `{error}` responses.

export class HttpError extends Error {
  override name = 'HttpError'
  constructor (readonly status: number, message: string) {
    super(message)
  }
}

export class NotFoundError extends HttpError {
  override name = 'NotFoundError'
  constructor (message = 'not found') { super(404, message) }
}

export class BadRequestError extends HttpError {
  override name = 'BadRequestError'
  constructor (message: string) { super(400, message) }
}

export class PayloadTooLargeError extends HttpError {
  override name = 'PayloadTooLargeError'
  constructor (message: string) { super(413, message) }
}

export class MethodNotAllowedError extends HttpError {
  override name = 'MethodNotAllowedError'
  constructor (message = 'method not allowed') { super(405, message) }
}

export class UnauthorizedError extends HttpError {
  override name = 'UnauthorizedError'
  constructor (message: string) { super(401, message) }
}

export class ForbiddenError extends HttpError {
  override name = 'ForbiddenError'
  constructor (message: string) { super(403, message) }
}

export class TooManyRequestsError extends HttpError {
  override name = 'TooManyRequestsError'
  constructor (message: string, readonly retryAfterS: number) { super(429, message) }
}
