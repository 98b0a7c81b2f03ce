// A clock for tests: time moves only when the code under test sleeps (each sleep yields to the
// event loop for real, briefly), and every requested delay is recorded.
import type { Clock } from '../connection/link.ts'

export interface FakeClock extends Clock {
  readonly sleeps: number[]
  randomValue: number
}

export function createFakeClock(start = Date.UTC(2026, 0, 1)): FakeClock {
  let now = start
  const clock: FakeClock = {
    sleeps: [],
    randomValue: 0.5,
    now: () => now,
    random: () => clock.randomValue,
    sleep(ms, signal) {
      clock.sleeps.push(ms)
      return new Promise((resolve) => {
        if (signal?.aborted) return resolve()
        const timer = setTimeout(() => {
          now += ms
          signal?.removeEventListener('abort', done)
          resolve()
        }, 2)
        function done() {
          clearTimeout(timer)
          resolve()
        }
        signal?.addEventListener('abort', done, { once: true })
      })
    },
  }
  return clock
}
