// Request bodies are bounded before they are buffered, per route class: the JSON API (~1 MB),
// the agent's long-poll (the protocol's frame limit) and the LLM proxy (its own limit, which it
// enforces itself after checking the proxy token, in the provider's error shape). A declared
// Content-Length over the limit is refused before a byte is read; a streamed (chunked) body is
// counted as it arrives and cut off at the limit. JSON endpoints take only application/json:
// a form or multipart body is 415, so a cross-site <form> cannot post to them at all.
// Bun's own maxRequestBodySize (app.ts) is a backstop far above all of them.
import { Elysia } from 'elysia'
import { AGENT_MESSAGE_PATH, LLM_PROXY_PATH, MAX_FRAME_BYTES } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { BodyTooLarge, declaredLength, readBodyLimited } from './read-body.ts'

const isLlmProxy = (pathname: string) =>
  pathname === LLM_PROXY_PATH || pathname.startsWith(`${LLM_PROXY_PATH}/`)

/** The largest body a route takes; the LLM proxy's is checked by the proxy itself. */
export function bodyLimitFor(ctx: AppContext, pathname: string): number {
  if (isLlmProxy(pathname)) return ctx.config.llmProxyMaxBodyBytes
  if (pathname === AGENT_MESSAGE_PATH) return MAX_FRAME_BYTES
  return ctx.config.apiMaxBodyBytes
}

/**
 * What Bun itself refuses, with a bare 413 and before any of our code runs. Below it the routes'
 * own limits answer in the error shape (a declared length costs nothing to refuse: the body is
 * never read), so the backstop sits well above the largest of them.
 */
const BUN_BACKSTOP_BYTES = 128 * 1024 * 1024
export const serverMaxBodyBytes = (ctx: AppContext) =>
  Math.max(BUN_BACKSTOP_BYTES, ctx.config.llmProxyMaxBodyBytes, MAX_FRAME_BYTES, ctx.config.apiMaxBodyBytes)

const isJson = (contentType: string) => /^application\/([\w.+-]+\+)?json$/i.test(contentType.trim())

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `The request body may not exceed ${limit} bytes`, 'payload_too_large', 'body')
}

/** A body is coming unless there is none or it is declared empty (chunked bodies declare nothing). */
const hasBody = (request: Request) => request.body !== null && declaredLength(request) !== 0

export function bodyLimits(ctx: AppContext) {
  return new Elysia({ name: 'http.body-limits', seed: ctx.id })
    .onRequest(({ request }) => {
      const { pathname } = new URL(request.url)
      if (isLlmProxy(pathname) || !pathname.startsWith('/api/') || !hasBody(request)) return
      const limit = bodyLimitFor(ctx, pathname)
      if (declaredLength(request) > limit) throw tooLarge(limit)
      const type = request.headers.get('content-type')?.split(';')[0] ?? ''
      if (!isJson(type)) {
        throw new HttpError(
          415,
          'This endpoint accepts only application/json bodies',
          'unsupported_media_type',
          'content-type',
        )
      }
    })
    .onParse({ as: 'global' }, async ({ request }) => {
      const { pathname } = new URL(request.url)
      // Non-undefined ends Elysia's parsing: the proxy reads its own body, byte for byte.
      if (isLlmProxy(pathname)) return null
      if (!request.body) return undefined
      const limit = bodyLimitFor(ctx, pathname)
      let raw: Uint8Array | null
      try {
        raw = await readBodyLimited(request, limit)
      } catch (error) {
        if (error instanceof BodyTooLarge) throw tooLarge(limit)
        throw error
      }
      try {
        return JSON.parse(new TextDecoder().decode(raw ?? new Uint8Array()))
      } catch {
        throw new HttpError(400, 'The request body is not valid JSON', 'invalid_json', 'body')
      }
    })
}
