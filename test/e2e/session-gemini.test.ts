// The real Gemini CLI from npm (@google/gemini-cli) in a session, inside the machine's sandbox:
// the server, the compiled agent binary and one `gemini -p … -o stream-json` per message, in the
// Google wire format (streamGenerateContent?alt=sse, usageMetadata) to the fake upstream through
// the proxy. The second message resumes the CLI's session; usage is counted per turn.
import { describe, expect, test } from 'bun:test'
import { cliTestbed, startCliSession } from '../support/cli-session.ts'

const REAL_KEY = 'AIza-real-google-key-for-gemini-0123456789'
const REPLIES = ['Hello from the fake Gemini.', 'Second answer from the fake Gemini.'] as const
const USAGE = { input: 19, output: 8 }

const bed = cliTestbed({ reply: REPLIES[0], usage: USAGE })

const generate = (path: string) => /\/models\/[^/]+:(stream)?[gG]enerateContent$/.test(path)

describe('a session through the real Gemini CLI, sandboxed', () => {
  test('Google streaming through the proxy with the real key; the session resumes; usage counted', async () => {
    const s = await startCliSession(bed.server, {
      provider: 'google',
      apiKey: REAL_KEY,
      baseUrl: bed.fake.url,
      cliTool: 'gemini-cli',
      model: 'gemini-2.5-flash',
      version: '0.61.0',
      userName: 'gemma',
      track: bed.processes,
    })
    expect((await s.say('Say hello.')).status).toBe(200)
    await s.answered(REPLIES[0])
    const first = bed.fake.requests.filter((r) => generate(r.path))
    expect(first.length).toBeGreaterThanOrEqual(1)
    expect(first.some((r) => r.path.endsWith(':streamGenerateContent') && r.search.includes('alt=sse'))).toBe(
      true,
    )
    const before = bed.fake.requests.length

    bed.fake.setBehaviour({ reply: REPLIES[1], usage: USAGE })
    expect((await s.say('And again.')).status).toBe(200)
    await s.answered(REPLIES[1])
    const calls = bed.fake.requests.filter((r) => generate(r.path))
    for (const r of calls) expect(r.key).toBe(REAL_KEY)
    // The second process resumed the CLI's session: the first exchange went back as context.
    const second = bed.fake.requests.slice(before).find((r) => r.path.endsWith(':streamGenerateContent'))
    expect(second?.body).toContain('Say hello.')
    expect(second?.body).toContain(REPLIES[0])

    // Every generate call counted once, with the fake's usage.
    await s.totalTokens(calls.length * (USAGE.input + USAGE.output))
    expect(await s.stop()).toBe('stopped')
    expect(bed.server.logs.join('\n')).not.toContain(REAL_KEY)
    expect(s.agent.log()).not.toContain(REAL_KEY)
  }, 300_000)
})
