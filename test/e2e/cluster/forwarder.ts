// A switchable loopback TCP forwarder: the "load balancer" address of the cluster test. Each
// new connection goes to the upstream port set now; switching does not touch live connections,
// and a connection whose upstream goes away (or cannot be reached) is closed, as a balancer would.
import type { Socket } from 'bun'

export interface Forwarder {
  port: number
  url: string
  /** Where new connections go from now on. */
  switchTo(port: number): void
  stop(): void
}

interface Link {
  peer: Socket<Link> | undefined
  /** Bytes the client sent before its upstream connection opened. */
  early: Uint8Array[]
  /** Bytes this socket did not take yet, written again on its drain event. */
  backlog: Uint8Array | undefined
  closed: boolean
}

function write(socket: Socket<Link>, chunk: Uint8Array) {
  const bytes = socket.data.backlog ? Buffer.concat([socket.data.backlog, chunk]) : chunk
  const written = socket.write(bytes)
  socket.data.backlog = written < bytes.length ? bytes.subarray(Math.max(written, 0)) : undefined
}

function shut(socket: Socket<Link> | undefined) {
  if (!socket || socket.data.closed) return
  socket.data.closed = true
  socket.end()
  shut(socket.data.peer)
}

const handlers = {
  data(socket: Socket<Link>, chunk: Uint8Array) {
    const peer = socket.data.peer
    if (peer) write(peer, chunk)
    else socket.data.early.push(new Uint8Array(chunk))
  },
  drain(socket: Socket<Link>) {
    if (socket.data.backlog) write(socket, new Uint8Array(0))
  },
  close: (socket: Socket<Link>) => shut(socket),
  error: (socket: Socket<Link>) => shut(socket),
}

const newLink = (peer?: Socket<Link>): Link => ({ peer, early: [], backlog: undefined, closed: false })

export function startForwarder(upstreamPort: number): Forwarder {
  let target = upstreamPort
  const listener = Bun.listen<Link>({
    hostname: '127.0.0.1',
    port: 0,
    data: newLink(),
    socket: {
      ...handlers,
      async open(client) {
        client.data = newLink()
        try {
          const upstream = await Bun.connect<Link>({
            hostname: '127.0.0.1',
            port: target,
            data: newLink(client),
            socket: handlers,
          })
          if (client.data.closed) return shut(upstream)
          client.data.peer = upstream
          for (const chunk of client.data.early.splice(0)) write(upstream, chunk)
        } catch {
          shut(client)
        }
      },
    },
  })
  return {
    port: listener.port,
    url: `http://127.0.0.1:${listener.port}`,
    switchTo(port) {
      target = port
    },
    stop: () => listener.stop(true),
  }
}
