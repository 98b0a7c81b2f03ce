// A pass-through HTTP proxy between the browser and the test server that can cut every open
// connection (a dropped network) and refuse new ones for a while, so tests can prove the live
// stream resumes without losing or repeating output.
export interface CutProxy {
  url: string
  /** Aborts every proxied request in flight (open SSE streams included). */
  cut(): void
  /** While true, new requests are answered 503 as by a gateway whose backend is gone. */
  refuse: boolean
  stop(): Promise<void>
}

export function startCutProxy(target: string): CutProxy {
  const inFlight = new Set<AbortController>()
  const proxy: CutProxy = {
    url: '',
    refuse: false,
    cut() {
      for (const controller of inFlight) controller.abort()
      inFlight.clear()
    },
    async stop() {
      proxy.cut()
      await server.stop(true)
    },
  }
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 60,
    async fetch(request) {
      if (proxy.refuse) return new Response('backend unavailable', { status: 503 })
      const url = new URL(request.url)
      const controller = new AbortController()
      inFlight.add(controller)
      const headers = new Headers(request.headers)
      headers.set('host', url.host)
      try {
        const upstream = await fetch(`${target}${url.pathname}${url.search}`, {
          method: request.method,
          headers,
          body: request.body,
          redirect: 'manual',
          signal: controller.signal,
        })
        return new Response(endOnCut(upstream.body), { status: upstream.status, headers: upstream.headers })
      } catch {
        inFlight.delete(controller)
        return new Response('connection cut', { status: 502 })
      }
    },
  })
  proxy.url = `http://127.0.0.1:${server.port}`
  return proxy
}

/** The upstream body, ended (not errored) when the cut aborts it: the browser sees the drop. */
function endOnCut(body: ReadableStream<Uint8Array> | null): ReadableStream<Uint8Array> | null {
  if (!body) return null
  const reader = body.getReader()
  return new ReadableStream({
    async pull(controller) {
      try {
        const { done, value } = await reader.read()
        if (done) controller.close()
        else controller.enqueue(value)
      } catch {
        controller.close()
      }
    },
    cancel: (reason) => reader.cancel(reason),
  })
}
