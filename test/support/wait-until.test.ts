import { describe, expect, test } from 'bun:test'
import { waitUntil } from './wait-until.ts'

describe('waitUntil', () => {
  test("resolves with the check's first truthy value, after retrying falsy values and errors", async () => {
    let calls = 0
    const value = await waitUntil(
      () => {
        calls++
        if (calls === 1) throw new Error('not ready')
        return calls >= 3 ? { calls } : undefined
      },
      { what: 'third call' },
    )
    expect(value).toEqual({ calls: 3 })
  })

  test('awaits an async check', async () => {
    let n = 0
    expect(await waitUntil(async () => ++n === 2 && 'done', { what: 'second call' })).toBe('done')
  })

  test('on timeout names what it waited for and the last value seen', async () => {
    await expect(
      waitUntil(() => ({ status: 'offline' }).status === 'online', { what: 'machine online', timeoutMs: 30 }),
    ).rejects.toThrow('timed out after 30 ms waiting for machine online (last value: false)')
  })

  test('on timeout carries the last error seen as the cause', async () => {
    const error = await waitUntil(
      () => {
        throw new Error('connection refused')
      },
      { what: 'server up', timeoutMs: 30 },
    ).catch((e: Error) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toBe(
      'timed out after 30 ms waiting for server up (last error: connection refused)',
    )
    expect(((error as Error).cause as Error).message).toBe('connection refused')
  })
})
