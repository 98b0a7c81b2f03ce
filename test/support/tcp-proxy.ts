// A loopback TCP proxy a test controls, to cut the network between two of our processes:
// forward bytes both ways, drop every live connection, refuse or blackhole new ones, restore.
import type { Socket, TCPSocketListener } from 'bun'

/** forward: pass bytes; refuse: close new connections at once; blackhole: accept, never answer. */
export type ProxyMode = 'forward' | 'refuse' | 'blackhole'

export interface TcpProxy {
  port: number
  url: string
  mode: ProxyMode
  /** Connections accepted so far (every attempt, whatever the mode). */
  accepted: number
  setMode(mode: ProxyMode): void
  /** Closes every connection open now, both sides. */
  dropAll(): void
  /** Drops everything and answers in `mode` for `ms`, then forwards again. */
  cut(ms: number, mode?: Exclude<ProxyMode, 'forward'>): Promise<void>
  stop(): void
}

interface Link {
  client: Socket<Link>
  upstream: Socket<Link> | undefined
  /** Client bytes that arrived before the upstream socket opened. */
  pending: Uint8Array[]
  /** Bytes a socket did not take yet (backpressure), flushed on its drain event. */
  backlog: Map<Socket<Link>, Uint8Array>
}

/** Writes what the socket takes now and keeps the rest for its drain event. */
function send(link: Link, socket: Socket<Link>, chunk: Uint8Array) {
  const queued = link.backlog.get(socket)
  const bytes = queued ? Buffer.concat([queued, chunk]) : chunk
  const written = socket.write(bytes)
  if (written < bytes.length) link.backlog.set(socket, bytes.subarray(Math.max(written, 0)))
  else link.backlog.delete(socket)
}

function flush(link: Link, socket: Socket<Link>) {
  const queued = link.backlog.get(socket)
  if (queued) send(link, socket, new Uint8Array(0))
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const links = new Set<Link>()
  const close = (link: Link) => {
    links.delete(link)
    link.client.end()
    link.upstream?.end()
  }

  const listener: TCPSocketListener<Link> = Bun.listen<Link>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      async open(client) {
        proxy.accepted++
        const link: Link = { client, upstream: undefined, pending: [], backlog: new Map() }
        client.data = link
        if (proxy.mode === 'refuse') return void client.end()
        links.add(link)
        if (proxy.mode === 'blackhole') return
        try {
          link.upstream = await Bun.connect<Link>({
            hostname: targetHost,
            port: targetPort,
            data: link,
            socket: {
              data: (_up, chunk) => send(link, link.client, chunk),
              drain: (up) => flush(link, up),
              close: () => close(link),
              error: () => close(link),
            },
          })
          for (const chunk of link.pending) send(link, link.upstream, chunk)
          link.pending = []
        } catch {
          close(link)
        }
      },
      data(client, chunk) {
        const link = client.data
        if (proxy.mode !== 'forward' || !links.has(link)) return
        if (link.upstream) send(link, link.upstream, chunk)
        else link.pending.push(new Uint8Array(chunk))
      },
      drain: (client) => flush(client.data, client),
      close: (client) => close(client.data),
      error: (client) => close(client.data),
    },
  })

  const proxy: TcpProxy = {
    port: listener.port,
    url: `http://127.0.0.1:${listener.port}`,
    mode: 'forward',
    accepted: 0,
    setMode(mode) {
      proxy.mode = mode
    },
    dropAll() {
      for (const link of [...links]) close(link)
    },
    async cut(ms, mode = 'refuse') {
      proxy.mode = mode
      proxy.dropAll()
      await Bun.sleep(ms)
      proxy.dropAll()
      proxy.mode = 'forward'
    },
    stop() {
      proxy.dropAll()
      listener.stop(true)
    },
  }
  return proxy
}
