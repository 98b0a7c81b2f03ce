// Run by Deno (server/llm-proxy/deno.test.ts): the real app on an in-memory database, a stored key
// pointing at the fake upstream given as argument, and proxy calls through app.fetch. Prints one
// JSON line with what the client saw and what the ledger counted.

import { createApiKey } from '../../server/api-keys/service.ts'
import { SYSTEM_ACTOR } from '../../server/audit/service.ts'
import { loadConfig } from '../../server/config.ts'
import { openDatabase } from '../../server/db/index.ts'
import { quotaUsage, sessions } from '../../server/db/schema/index.ts'
import { issueProxyToken } from '../../server/llm-proxy/tokens.ts'
import { createLogger } from '../../server/log.ts'
import { flushUsage } from '../../server/quota/ledger.ts'
import { prepareServer } from '../../server/start.ts'

declare const Deno: { args: string[]; makeTempDirSync(): string }

const [fakeUrl] = Deno.args
const config = loadConfig(
  {
    SECRET_KEY: 'deno-proxy-check-secret',
    DATA_DIR: Deno.makeTempDirSync(),
    OPENACE_ADMIN_PASSWORD: 'x',
    LOG_LEVEL: 'error',
    LLM_PROXY_PRIVATE_UPSTREAMS: 'private',
  },
  { warn: () => {} },
)
const database = await openDatabase({ dataDir: 'memory://' })
const server = await prepareServer(config, { database, log: createLogger('error'), print: () => {} })
const ctx = server.ctx
await createApiKey(ctx, SYSTEM_ACTOR, {
  provider: 'openai',
  keyName: 'deno',
  apiKey: 'sk-deno-real-key-1234',
  baseUrl: `${fakeUrl}/v1`,
})
const [session] = await ctx.db
  .insert(sessions)
  .values({ tenantId: 1, userId: 1, projectPath: '/p', cliTool: 'qwen-code', status: 'active' })
  .returning()
const { token } = await issueProxyToken(ctx, {
  sessionId: session!.id,
  userId: 1,
  machineId: null,
  tenantId: 1,
  provider: 'openai',
})
const call = (stream: boolean, auth = token) =>
  server.app.fetch(
    new Request('http://localhost/api/remote/llm-proxy/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'deno-model', stream, messages: [] }),
    }),
  )
const plain = await call(false)
const streamed = await call(true)
const forged = await call(false, `${token}x`)
const result = {
  plain: { status: plain.status, body: await plain.json() },
  streamed: { status: streamed.status, body: await streamed.text() },
  forged: forged.status,
}
await flushUsage(ctx)
const rows = await ctx.db.select().from(quotaUsage)
const sum = (pick: (r: (typeof rows)[number]) => number) => rows.reduce((n, r) => n + pick(r), 0)
const ledger = {
  requests: sum((r) => r.requests),
  input: sum((r) => r.inputTokens),
  output: sum((r) => r.outputTokens),
}
console.log(JSON.stringify({ ...result, ledger }))
await server.close()
