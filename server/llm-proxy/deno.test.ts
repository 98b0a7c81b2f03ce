// The proxy path is web-standard: the same app, run by Deno through app.fetch, forwards with the
// real key, streams, hides the usage chunk it asked for, counts tokens and refuses a forged token.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.ts'
import { DENO_BIN, killGroup, REPO_ROOT } from '../../test/support/process.ts'

let fake: FakeLlm

beforeAll(async () => {
  fake = await startFakeLlm({ usage: { input: 4, output: 6 } })
})

afterAll(async () => {
  await fake.close()
})

test('the LLM proxy runs on Deno through app.fetch', async () => {
  const proc = Bun.spawn([DENO_BIN, 'run', '-A', 'test/support/deno-llm-proxy.ts', fake.url], {
    cwd: REPO_ROOT,
    stdout: 'pipe',
    stderr: 'pipe',
    env: { ...process.env, DATABASE_URL: '' },
    detached: true,
  })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]).finally(() => killGroup(proc))
  expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' })
  const result = JSON.parse(out.trim().split('\n').at(-1)!)
  expect(result.plain).toMatchObject({
    status: 200,
    body: { object: 'chat.completion', model: 'deno-model' },
  })
  expect(result.streamed.status).toBe(200)
  expect(result.streamed.body).toContain('data: [DONE]')
  expect(result.streamed.body).not.toContain('"usage"')
  expect(result.forged).toBe(401)
  expect(result.ledger).toEqual({ requests: 2, input: 8, output: 12 })
  expect(fake.requests.map((r) => r.key)).toEqual(['sk-deno-real-key-1234', 'sk-deno-real-key-1234'])
}, 60_000)
