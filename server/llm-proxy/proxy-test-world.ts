// The world the LLM proxy tests share: a listening server with an openai, an anthropic and a google
// key stored, all pointing at one fake upstream, plus what every response carried (to prove no real
// key came back). Each test file puts its tests in describeThroughProxy(), which runs them once per
// upstream write mode in a fresh world and ends with the check over everything their calls left in
// responses, logs and the database. The bindings are live, so the tests read them as plain names.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq, sql } from 'drizzle-orm'
import { FAKE_WRITE_MODES, type FakeLlm, type FakeWrites, startFakeLlm } from '../../test/support/fake-llm.ts'
import { storeFakeUpstreamKeys } from '../../test/support/llm-proxy.ts'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { quotaUsage } from '../db/schema/index.ts'
import { flushUsage } from '../quota/ledger.ts'

export const OPENAI_KEY = 'sk-openai-real-secret-0001'
export const ANTHROPIC_KEY = 'sk-ant-real-secret-0002'
export const GOOGLE_KEY = 'AIza-google-real-secret-0003'
const SECRETS = [OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY]

export let server: TestServer
export let fake: FakeLlm
export let admin: string
/** Every byte and header the clients received, to prove no real key ever came back. */
export let seen: string[] = []

export const proxyUrl = (path = '') => `${server.url}/api/remote/llm-proxy${path}`

/** The ledger's totals for one session, per provider/model/status (identical requests may share a row). */
export async function usageOf(sessionId: string) {
  await flushUsage(server.ctx)
  const rows = await server.ctx.db.select().from(quotaUsage).where(eq(quotaUsage.sessionId, sessionId))
  const out: Record<string, { requests: number; input: number; output: number }> = {}
  for (const r of rows) {
    const key = `${r.provider}/${r.model}/${r.status}`
    out[key] ??= { requests: 0, input: 0, output: 0 }
    out[key].requests += r.requests
    out[key].input += r.inputTokens
    out[key].output += r.outputTokens
  }
  return out
}

export async function capture(res: Response): Promise<string> {
  const text = await res.text()
  seen.push(text, JSON.stringify([...res.headers]))
  return text
}

/** Starts the world for the enclosing describe (its beforeAll) and stops it after. */
function useProxyWorld(writes: FakeWrites) {
  beforeAll(async () => {
    seen = []
    server = await startTestServer({
      listen: true,
      env: { LLM_PROXY_EXTRA_ENDPOINTS: 'openai POST /audio/transcriptions' },
    })
    fake = await startFakeLlm({ usage: { input: 21, output: 13 } }, { writes })
    admin = await server.login()
    await storeFakeUpstreamKeys(server, admin, fake, [
      { provider: 'openai', key_name: 'production', api_key: OPENAI_KEY },
      { provider: 'anthropic', key_name: 'main', api_key: ANTHROPIC_KEY },
      { provider: 'google', key_name: 'main', api_key: GOOGLE_KEY },
    ])
  })

  afterAll(async () => {
    await fake.close()
    await server.stop()
  })
}

/** The last check of each file: no real key in any response, header, log line or database column. */
function testSecretsNeverLeak() {
  describe('secrets', () => {
    test('no real key in any response, header, log line or database column', async () => {
      const tables = await server.ctx.db.execute<{ table_name: string }>(
        sql`select table_name from information_schema.tables where table_schema = 'public'`,
      )
      const rows =
        (tables as unknown as { rows?: Array<{ table_name: string }> }).rows ??
        (tables as unknown as Array<{ table_name: string }>)
      let dump = ''
      for (const { table_name } of rows) {
        const content = await server.ctx.db.execute(sql.raw(`select t::text as row from "${table_name}" t`))
        dump += JSON.stringify(content)
      }
      expect(dump).toContain('production')
      const haystacks = { responses: seen.join('\n'), logs: server.logs.join('\n'), database: dump }
      for (const secret of SECRETS) {
        for (const [where, text] of Object.entries(haystacks))
          expect({ where, found: text.includes(secret) }).toEqual({ where, found: false })
      }
      expect(fake.requests.some((r) => r.key === OPENAI_KEY)).toBe(true)
    })
  })
}

/**
 * The file's tests under `title`, once per upstream write mode (each SSE event in one go, and one by
 * one), each run in a fresh world and followed by testSecretsNeverLeak().
 */
export function describeThroughProxy(title: string, tests: (writes: FakeWrites) => void) {
  for (const writes of FAKE_WRITE_MODES)
    describe(`upstream writes ${writes}`, () => {
      useProxyWorld(writes)
      describe(title, () => tests(writes))
      testSecretsNeverLeak()
    })
}
