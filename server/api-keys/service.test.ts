// The API key store: the seed's curl works verbatim, values are write-only and encrypted at
// rest, only system admins manage keys, and every change is audited and reaches the proxy.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.ts'
import { proxyMessages, proxyTokenFor } from '../../test/support/llm-proxy.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { createContext } from '../context/index.ts'
import { apiKeyStore, auditLog } from '../db/schema/index.ts'
import { createLogger } from '../log.ts'
import { maskApiKey, openApiKey, sealApiKey } from './crypto.ts'

const SEED_KEY = 'sk-xxx-seed-example-key-9876'
const ENCRYPTION_KEY = 'ab'.repeat(32)

let server: TestServer
let admin: string
let fake: FakeLlm

beforeAll(async () => {
  server = await startTestServer({ env: { OPENACE_ENCRYPTION_KEY: ENCRYPTION_KEY } })
  admin = await server.login()
  fake = await startFakeLlm()
})

afterAll(async () => {
  await fake.close()
  await server.stop()
})

const list = async (cookie = admin) =>
  (await (await server.request('/api/remote/api-keys', { cookie })).json()) as {
    api_keys: Array<{
      id: number
      provider: string
      key_name: string
      masked_key: string
      base_url: string
      status: string
    }>
  }

describe('key store API', () => {
  test("the seed's curl stores a key; the list shows it masked, never the value", async () => {
    const res = await server.request('/api/remote/api-keys', {
      method: 'POST',
      cookie: admin,
      headers: { 'Content-Type': 'application/json' },
      body:
        '{\n"provider": "openai",\n"key_name": "production",\n"api_key": "' +
        SEED_KEY +
        '",\n"base_url": "https://api.openai.com/v1"\n}',
    })
    expect(res.status).toBe(201)
    const created = await res.text()
    expect(created).not.toContain(SEED_KEY)
    const { api_keys } = await list()
    expect(api_keys).toHaveLength(1)
    expect(api_keys[0]).toMatchObject({
      provider: 'openai',
      key_name: 'production',
      masked_key: 'sk-…9876',
      base_url: 'https://api.openai.com/v1',
      status: 'enabled',
    })
    expect(JSON.stringify(api_keys)).not.toContain(SEED_KEY)
    const [row] = await server.ctx.db.select().from(apiKeyStore).where(eq(apiKeyStore.id, api_keys[0]!.id))
    expect(row!.nonce).toHaveLength(12)
    expect(Buffer.from(row!.ciphertext).toString('latin1')).not.toContain(SEED_KEY)
    expect(await openApiKey(server.ctx, row!)).toBe(SEED_KEY)
  })

  test('bad input: provider, base_url scheme, duplicate name', async () => {
    const post = (json: unknown) =>
      server.request('/api/remote/api-keys', { method: 'POST', cookie: admin, json })
    const badProvider = await post({ provider: 'mistral', key_name: 'x', api_key: 'k' })
    expect(badProvider.status).toBe(400)
    expect(((await badProvider.json()) as { error: { field: string } }).error.field).toBe('provider')
    for (const base_url of [
      'ftp://example.com/v1',
      'file:///etc/passwd',
      'not a url',
      'https://u:p@example.com',
    ]) {
      const res = await post({ provider: 'openai', key_name: 'other', api_key: 'sk-abc', base_url })
      expect(res.status).toBe(400)
      expect(((await res.json()) as { error: { field: string } }).error.field).toBe('base_url')
    }
    const dup = await post({ provider: 'openai', key_name: 'production', api_key: 'sk-another' })
    expect(dup.status).toBe(409)
    expect(((await dup.json()) as { error: { field: string } }).error.field).toBe('key_name')
  })

  test('only system admins manage keys', async () => {
    const user = await createUser(server, admin, 'keyless')
    expect((await server.request('/api/remote/api-keys', { cookie: user.cookie })).status).toBe(403)
    expect((await server.request('/api/remote/api-keys')).status).toBe(401)
    const post = await server.request('/api/remote/api-keys', {
      method: 'POST',
      cookie: user.cookie,
      json: { provider: 'openai', key_name: 'sneaky', api_key: 'sk-sneaky' },
    })
    expect(post.status).toBe(403)
    expect(
      (await server.request('/api/remote/api-keys/1', { method: 'DELETE', cookie: user.cookie })).status,
    ).toBe(403)
  })

  test('disable, enable and delete take effect in the proxy at once, and are audited', async () => {
    const created = await server.request('/api/remote/api-keys', {
      method: 'POST',
      cookie: admin,
      json: { provider: 'anthropic', key_name: 'main', api_key: 'sk-ant-live-key-5555', base_url: fake.url },
    })
    const { id } = ((await created.json()) as { api_key: { id: number } }).api_key
    const { token } = await proxyTokenFor(server, 1, { provider: 'anthropic' })
    const message = () => proxyMessages(server, token, { model: 'c', max_tokens: 5, messages: [] })
    expect((await message()).status).toBe(200)
    const patch = (status: string) =>
      server.request(`/api/remote/api-keys/${id}`, { method: 'PATCH', cookie: admin, json: { status } })
    expect((await patch('disabled')).status).toBe(200)
    const refused = await message()
    expect(refused.status).toBe(400)
    expect(await refused.json()).toMatchObject({ error: { type: 'config_error' } })
    expect((await patch('enabled')).status).toBe(200)
    expect((await message()).status).toBe(200)
    expect(
      (await server.request(`/api/remote/api-keys/${id}`, { method: 'DELETE', cookie: admin })).status,
    ).toBe(200)
    expect(
      (await server.request(`/api/remote/api-keys/${id}`, { method: 'DELETE', cookie: admin })).status,
    ).toBe(404)
    expect((await message()).status).toBe(400)
    const events = (await server.ctx.db.select().from(auditLog)).map((r) => r.event)
    for (const e of ['api_key.create', 'api_key.update', 'api_key.delete']) expect(events).toContain(e)
    expect(JSON.stringify(await server.ctx.db.select().from(auditLog))).not.toContain('sk-ant-live-key-5555')
  })
})

describe('encryption', () => {
  test('a fresh nonce per key: the same value seals differently, and opens back', async () => {
    const a = await sealApiKey(server.ctx, 'sk-same-value-1234')
    const b = await sealApiKey(server.ctx, 'sk-same-value-1234')
    expect(Buffer.from(a.nonce).equals(Buffer.from(b.nonce))).toBe(false)
    expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false)
    expect(await openApiKey(server.ctx, b)).toBe('sk-same-value-1234')
    const tampered = { ...a, ciphertext: Uint8Array.from(a.ciphertext, (x, i) => (i === 0 ? x ^ 1 : x)) }
    await expect(openApiKey(server.ctx, tampered)).rejects.toBeDefined()
  })

  test('without OPENACE_ENCRYPTION_KEY the SECRET_KEY fallback warns loudly, and the key differs', async () => {
    const lines: string[] = []
    // Another server instance on the same database, configured without the encryption key.
    const fallback = createContext(
      { ...server.ctx.config, encryptionKeyHex: undefined },
      server.database,
      createLogger('warn', (line) => lines.push(line)),
    )
    const sealed = await sealApiKey(fallback, 'sk-whatever-1234')
    expect(
      lines.some((l) => l.includes('"level":"warn"') && l.includes('OPENACE_ENCRYPTION_KEY is not set')),
    ).toBe(true)
    expect(await openApiKey(fallback, sealed)).toBe('sk-whatever-1234')
    await expect(openApiKey(server.ctx, sealed)).rejects.toBeDefined()
    await fallback.close()
  })

  test('masking keeps the prefix and the last four characters only', () => {
    expect(maskApiKey('sk-proj-abcdefghijklmnop1234')).toBe('sk-…1234')
    expect(maskApiKey('AIzaSyExampleExample9999')).toBe('…9999')
    expect(maskApiKey('short')).toBe('…')
  })
})
