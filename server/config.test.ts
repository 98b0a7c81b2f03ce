import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadConfig } from './config.ts'

const quiet = { warn: () => {} }

describe('loadConfig', () => {
  test('defaults follow the seed: port 5000, ./data, info logs', () => {
    const c = loadConfig({ SECRET_KEY: 'a-long-enough-secret' }, quiet)
    expect(c.port).toBe(5000)
    expect(c.dataDir.endsWith('/data')).toBe(true)
    expect(c.logLevel).toBe('info')
    expect(c.databaseUrl).toBeUndefined()
  })

  test('a bad value names the variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' }, quiet)).toThrow(/PORT/)
    expect(() => loadConfig({ PORT: '70000' }, quiet)).toThrow(/PORT/)
    expect(() => loadConfig({ OPENACE_ENCRYPTION_KEY: 'abc' }, quiet)).toThrow(/OPENACE_ENCRYPTION_KEY/)
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' }, quiet)).toThrow(/DATABASE_URL/)
    expect(() => loadConfig({ LOG_LEVEL: 'loud' }, quiet)).toThrow(/LOG_LEVEL/)
  })

  test('strings become the schema types: integers whole, booleans as true/false, 1/0 or yes/no', () => {
    const base = { SECRET_KEY: 'a-long-enough-secret' }
    expect(loadConfig({ ...base, PORT: '8080' }, quiet).port).toBe(8080)
    expect(() => loadConfig({ ...base, PORT: '80.5' }, quiet)).toThrow(/PORT/)
    expect(() => loadConfig({ ...base, PORT: '1e3' }, quiet)).toThrow(/PORT/)
    for (const [raw, value] of [
      ['TRUE', true],
      ['1', true],
      ['Yes', true],
      ['false', false],
      ['0', false],
      ['no', false],
    ] as const)
      expect(loadConfig({ ...base, TRUST_PROXY: raw }, quiet).trustProxy).toBe(value)
    expect(() => loadConfig({ ...base, TRUST_PROXY: 'maybe' }, quiet)).toThrow(/TRUST_PROXY/)
    expect(loadConfig({ ...base, PORT: '' }, quiet).port).toBe(5000)
  })

  test('production without SECRET_KEY is a start-up error with a clear message', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' }, quiet)).toThrow(ConfigError)
    expect(() => loadConfig({ NODE_ENV: 'production' }, quiet)).toThrow(/SECRET_KEY is required/)
  })

  test('dev without SECRET_KEY warns and keeps a stable secret in DATA_DIR (0600)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-config-'))
    const warnings: string[] = []
    const a = loadConfig({ DATA_DIR: dir }, { warn: (m) => warnings.push(m) })
    const b = loadConfig({ DATA_DIR: dir }, quiet)
    expect(warnings.join()).toMatch(/SECRET_KEY is not set/)
    expect(a.secretKey).toBe(b.secretKey)
    expect(a.secretKeySource).toBe('data-dir')
    expect(readFileSync(join(dir, 'secret-key'), 'utf8').trim()).toBe(a.secretKey)
    expect(statSync(join(dir, 'secret-key')).mode & 0o777).toBe(0o600)
  })

  test('PUBLIC_URL loses its trailing slash; booleans parse', () => {
    const c = loadConfig(
      { SECRET_KEY: 'a-long-enough-secret', PUBLIC_URL: 'https://ace.example.com/', TRUST_PROXY: 'true' },
      quiet,
    )
    expect(c.publicUrl).toBe('https://ace.example.com')
    expect(c.trustProxy).toBe(true)
  })
})

describe('OpenID Connect settings', () => {
  const base = { SECRET_KEY: 'a-long-enough-secret' }
  test('unset: no OIDC, passwords for everyone', () => {
    const c = loadConfig(base, quiet)
    expect(c.oidc).toBeUndefined()
    expect(c.passwordLogin).toEqual({ mode: 'enabled', breakGlassAdmin: 'admin' })
  })

  test('read and normalised', () => {
    const c = loadConfig(
      {
        ...base,
        OIDC_ISSUER_URL: 'https://login.example.com/realms/acme',
        OIDC_CLIENT_ID: 'open-ace',
        OIDC_ALLOWED_EMAIL_DOMAINS: 'Acme.com, @acme.de',
        OIDC_ADMIN_GROUPS: 'ace-admins,ops',
        OIDC_LINK_BY_EMAIL: 'yes',
        PASSWORD_LOGIN: 'break-glass-only',
      },
      quiet,
    )
    expect(c.oidc).toMatchObject({
      clientSecret: undefined,
      providerName: 'SSO',
      scopes: 'openid email profile',
      allowedEmailDomains: ['acme.com', 'acme.de'],
      adminGroups: ['ace-admins', 'ops'],
      groupsClaim: 'groups',
      linkByEmail: true,
    })
    expect(c.passwordLogin.mode).toBe('break-glass-only')
  })

  test('mistakes stop the start with the variable named', () => {
    const issuer = { ...base, OIDC_CLIENT_ID: 'x' }
    expect(() => loadConfig({ ...base, OIDC_ISSUER_URL: 'https://idp.example' }, quiet)).toThrow(
      /OIDC_CLIENT_ID/,
    )
    expect(() => loadConfig({ ...base, OIDC_CLIENT_ID: 'x' }, quiet)).toThrow(/OIDC_ISSUER_URL is not/)
    expect(() => loadConfig({ ...issuer, OIDC_ISSUER_URL: 'http://idp.example' }, quiet)).toThrow(/use https/)
    expect(loadConfig({ ...issuer, OIDC_ISSUER_URL: 'http://127.0.0.1:9000' }, quiet).oidc).toBeDefined()
    expect(() =>
      loadConfig({ ...issuer, OIDC_ISSUER_URL: 'https://i', OIDC_SCOPES: 'email' }, quiet),
    ).toThrow(/OIDC_SCOPES/)
    expect(() => loadConfig({ ...base, PASSWORD_LOGIN: 'break-glass-only' }, quiet)).toThrow(
      /needs OIDC_ISSUER_URL/,
    )
    expect(() => loadConfig({ ...base, PASSWORD_LOGIN: 'off' }, quiet)).toThrow(/PASSWORD_LOGIN/)
  })
})
