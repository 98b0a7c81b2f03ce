// The long-poll terminal queue stays bounded (a flood of input is refused past the cap, never
// grown) and hands out batches in order, within the per-answer byte and item limits.
import { describe, expect, test } from 'bun:test'
import { TERMINAL_POLL_BATCH_BYTES } from '../../protocol/index.ts'
import { POLL_CHANNEL_GRACE_MS, POLL_TERMINAL_QUEUE_BYTES, PollTerminalQueues } from './poll-terminal.ts'

const chunk = (size: number, fill: number) => new Uint8Array(size).fill(fill)

describe('long-poll terminal queues', () => {
  test('a machine is reachable while a request waits or within the grace after one', () => {
    let now = 1_000
    const queues = new PollTerminalQueues(() => now)
    expect(queues.reachable('m', true)).toBe(false)
    expect(queues.seen('m')).toBe(true)
    expect(queues.seen('m')).toBe(false)
    now += POLL_CHANNEL_GRACE_MS + 1
    expect(queues.reachable('m', false)).toBe(false)
    expect(queues.reachable('m', true)).toBe(true)
    // Seen again after the grace: a channel new here (watched terminals are reopened on it).
    expect(queues.seen('m')).toBe(true)
  })

  test('past the cap a message is refused and the queue does not grow; batches keep order and limits', () => {
    const queues = new PollTerminalQueues(() => 0)
    queues.seen('m')
    const size = 256 * 1024
    let accepted = 0
    for (let i = 0; i < 2 * (POLL_TERMINAL_QUEUE_BYTES / size); i++)
      if (queues.push('m', chunk(size, i))) accepted++
    expect(accepted).toBe(POLL_TERMINAL_QUEUE_BYTES / size)

    const first = queues.take('m', 1000)
    expect(first.reduce((n, m) => n + m.length, 0)).toBeLessThanOrEqual(TERMINAL_POLL_BATCH_BYTES)
    expect(first.map((m) => m[0])).toEqual([0, 1, 2, 3])
    // Taking made room again.
    expect(queues.push('m', chunk(size, 99))).toBe(true)
    expect(queues.take('m', 2).map((m) => m[0])).toEqual([4, 5])
    // A message larger than a batch still goes, alone.
    const big = new PollTerminalQueues(() => 0)
    big.seen('m')
    big.push('m', chunk(TERMINAL_POLL_BATCH_BYTES + 1, 7))
    big.push('m', chunk(1, 8))
    expect(big.take('m', 1000).map((m) => m[0])).toEqual([7])
    expect(big.take('m', 1000).map((m) => m[0])).toEqual([8])
    expect(big.pending('m')).toBe(false)
  })
})
