// A key's base_url may not point at metadata or (unless the operator allows it) private addresses.
import { describe, expect, test } from 'bun:test'
import { startTestServer } from '../../test/support/server.ts'
import { classifyAddress, upstreamRefusal } from './upstream-address.ts'

describe('upstream addresses', () => {
  test('classification covers IPv4, IPv6 and IPv4-mapped forms', () => {
    expect(classifyAddress('169.254.169.254')).toBe('link-local')
    expect(classifyAddress('::ffff:169.254.169.254')).toBe('link-local')
    expect(classifyAddress('fd00:ec2::254')).toBe('link-local')
    expect(classifyAddress('fe80::1')).toBe('link-local')
    expect(classifyAddress('100.100.100.200')).toBe('link-local')
    expect(classifyAddress('127.0.0.1')).toBe('private')
    expect(classifyAddress('::1')).toBe('private')
    expect(classifyAddress('10.1.2.3')).toBe('private')
    expect(classifyAddress('fd12::1')).toBe('private')
    expect(classifyAddress('8.8.8.8')).toBe('public')
    expect(classifyAddress('2606:4700::1111')).toBe('public')
  })

  test('policies: none refuses private, private refuses only metadata, all refuses nothing', async () => {
    expect(await upstreamRefusal('none', 'http://127.0.0.1:8080/v1')).toContain('LLM_PROXY_PRIVATE_UPSTREAMS')
    expect(await upstreamRefusal('none', 'http://localhost:8080/v1')).toContain('loopback')
    expect(await upstreamRefusal('private', 'http://127.0.0.1:8080/v1')).toBeNull()
    // URL parsing turns the hex and IPv6 spellings into canonical addresses first.
    for (const url of ['http://169.254.169.254/', 'http://0xa9fea9fe/', 'http://[fd00:ec2::254]/'])
      expect(await upstreamRefusal('private', url)).toContain('metadata')
    expect(await upstreamRefusal('all', 'http://169.254.169.254/')).toBeNull()
    expect(await upstreamRefusal('none', 'https://8.8.8.8/v1')).toBeNull()
  })

  test('the key API refuses a metadata base_url (create and update) with a clear 400', async () => {
    const server = await startTestServer({ env: { LLM_PROXY_PRIVATE_UPSTREAMS: 'none' } })
    try {
      const admin = await server.login()
      const post = (base_url: string) =>
        server.request('/api/remote/api-keys', {
          method: 'POST',
          cookie: admin,
          json: {
            provider: 'openai',
            key_name: `k${Math.random()}`.replace('.', ''),
            api_key: 'sk-x',
            base_url,
          },
        })
      const metadata = await post('http://169.254.169.254/latest')
      expect(metadata.status).toBe(400)
      expect(((await metadata.json()) as { error: { field: string; message: string } }).error).toMatchObject({
        field: 'base_url',
        message: expect.stringContaining('metadata'),
      })
      expect((await post('http://127.0.0.1:9/v1')).status).toBe(400)
      const ok = await post('https://8.8.8.8/v1')
      expect(ok.status).toBe(201)
      const { id } = ((await ok.json()) as { api_key: { id: number } }).api_key
      const patch = await server.request(`/api/remote/api-keys/${id}`, {
        method: 'PATCH',
        cookie: admin,
        json: { base_url: 'http://[fd00:ec2::254]/' },
      })
      expect(patch.status).toBe(400)
    } finally {
      await server.stop()
    }
  })
})
