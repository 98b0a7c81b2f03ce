// Measuring a server process under load, for the bounded load scenarios (body burst, output
// flood): its RSS from /proc, and /api/health timed from a separate process, so the load's own
// sockets on this event loop do not slow the probe instead of the server.

import { readFileSync } from 'node:fs'

export const MB = 1024 * 1024

export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

export const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}

/** Times /api/health from a separate process until stopped; latencies in ms. */
export function probeHealth(url: string) {
  const script = `
    const latencies = []
    let running = true
    process.on('SIGTERM', () => { running = false })
    while (running) {
      const started = performance.now()
      await fetch(process.env.HEALTH_URL)
      latencies.push(performance.now() - started)
      await Bun.sleep(10)
    }
    console.log(JSON.stringify(latencies))`
  const proc = Bun.spawn([process.execPath, '-e', script], {
    env: { ...process.env, HEALTH_URL: `${url}/api/health` },
    stdout: 'pipe',
  })
  return {
    async stop(): Promise<number[]> {
      proc.kill('SIGTERM')
      const text = await new Response(proc.stdout).text()
      await proc.exited
      return JSON.parse(text) as number[]
    },
  }
}

/** Samples a process's RSS every 25 ms until stopped; resolves with the peak. */
export function sampleRss(pid: number) {
  let peak = rssBytes(pid)
  let running = true
  const done = (async () => {
    while (running) {
      peak = Math.max(peak, rssBytes(pid))
      await Bun.sleep(25)
    }
    return peak
  })()
  return {
    stop(): Promise<number> {
      running = false
      return done
    },
  }
}
