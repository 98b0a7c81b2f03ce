// POST /api/remote/llm-proxy and ANY /api/remote/llm-proxy/*: the LLM proxy's HTTP surface. The
// body is left unparsed (parse: 'none') so it can be forwarded byte for byte, JSON or not.
import { Elysia } from 'elysia'
import type { AppContext } from '../context/index.ts'
import { handleProxy, PROXY_PREFIX } from './proxy.ts'

interface IdleTimeoutControl {
  timeout?(request: Request, seconds: number): void
}

/**
 * A model may think for minutes before its first byte, longer than the listener's idle timeout;
 * on Bun the timeout is lifted for proxied requests (elsewhere there is no such control).
 */
function keepOpen(server: unknown, request: Request) {
  ;(server as IdleTimeoutControl | null)?.timeout?.(request, 0)
}

export function llmProxyRoutes(ctx: AppContext) {
  const detail = { summary: 'Forward an LLM request with the real API key (proxy token auth)' }
  const handle = ({ request, server }: { request: Request; server: unknown }) => {
    keepOpen(server, request)
    return handleProxy(ctx, request)
  }
  return new Elysia({ name: 'llm-proxy', seed: ctx.id })
    .all(PROXY_PREFIX, handle, { parse: 'none', detail })
    .all(`${PROXY_PREFIX}/*`, handle, { parse: 'none', detail })
}
