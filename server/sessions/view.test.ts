// Output reads: a session read carries about 1 MB of output at most, the rest page by page.
import { describe, expect, test } from 'bun:test'
import { reply, withCookie } from '../../test/support/client.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { agent, client, type Json, owner, startedSession, useSessionWorld } from './session-test-world.ts'

useSessionWorld()

describe('output reads', () => {
  test('a session read carries at most about 1 MB of output; the rest follows page by page', async () => {
    const { id } = await startedSession()
    const big = 'x'.repeat(200 * 1024)
    for (let batch = 0; batch < 3; batch++) {
      await agent.send({
        type: 'session.output',
        session_id: id,
        records: Array.from({ length: 4 }, (_, i) => ({
          seq: batch * 4 + i,
          stream: 'stdout' as const,
          data: big,
          ts: new Date().toISOString(),
        })),
      })
    }
    const first = await waitUntil(
      async () => {
        const { session } = (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie))))
          .body
        return session.last_seq >= 11 && session
      },
      { what: 'output up to seq 11' },
    )
    expect(first.last_seq).toBe(11)
    expect(first.output.length).toBe(5) // 5 x 200 KB fit in 1 MiB, a sixth would not
    expect(first.output_has_more).toBe(true)
    const seqs: number[] = first.output.map((o: Json) => o.seq)
    let after = seqs.at(-1)!
    for (let more = true; more; ) {
      const page = (
        await reply(
          client.api.remote
            .sessions({ id })
            .get({ query: { output_after: after }, ...withCookie(owner.cookie) }),
        )
      ).body.session
      seqs.push(...page.output.map((o: Json) => o.seq))
      after = seqs.at(-1)!
      more = page.output_has_more
    }
    expect(seqs).toEqual(Array.from({ length: 12 }, (_, i) => i))
  })
})
