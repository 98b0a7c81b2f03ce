// The real Codex CLI from npm (@openai/codex) in a session, inside the machine's sandbox: the
// server, the compiled agent binary and one `codex exec --json` per message, speaking the OpenAI
// Responses API (streamed) to the fake upstream through the proxy. The second message resumes
// the thread the first one started; usage is counted per turn.
import { describe, expect, test } from 'bun:test'
import { cliTestbed, startCliSession } from '../support/cli-session.ts'

const REAL_KEY = 'sk-real-openai-key-for-codex-0123456789'
const REPLIES = ['Hello from the fake Codex.', 'Second answer from the fake Codex.'] as const
const USAGE = { input: 23, output: 9 }

const bed = cliTestbed({ reply: REPLIES[0], usage: USAGE })

describe('a session through the real Codex CLI, sandboxed', () => {
  test('Responses API through the proxy with the real key; the thread resumes; usage counted', async () => {
    const s = await startCliSession(bed.server, {
      provider: 'openai',
      apiKey: REAL_KEY,
      baseUrl: `${bed.fake.url}/v1`,
      cliTool: 'codex',
      model: 'gpt-5-codex',
      version: '0.171.0',
      userName: 'cora',
      track: bed.processes,
    })
    expect((await s.say('Say hello.')).status).toBe(200)
    await s.answered(REPLIES[0])
    const first = bed.fake.requests.filter((r) => r.path === '/v1/responses')
    expect(first).toHaveLength(1)
    expect((first[0]!.json as { stream?: boolean }).stream).toBe(true)

    bed.fake.setBehaviour({ reply: REPLIES[1], usage: USAGE })
    expect((await s.say('And again.')).status).toBe(200)
    await s.answered(REPLIES[1])
    const calls = bed.fake.requests.filter((r) => r.path === '/v1/responses')
    expect(calls).toHaveLength(2)
    for (const r of calls) expect(r.key).toBe(REAL_KEY)
    // The second process resumed the thread: the first exchange went back as context.
    expect(calls[1]!.body).toContain('Say hello.')
    expect(calls[1]!.body).toContain(REPLIES[0])

    // Two turns, each counted once.
    await s.totalTokens(2 * (USAGE.input + USAGE.output))
    expect(await s.stop()).toBe('stopped')
    expect(bed.server.logs.join('\n')).not.toContain(REAL_KEY)
    expect(s.agent.log()).not.toContain(REAL_KEY)
  }, 300_000)
})
