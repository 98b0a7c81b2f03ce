// A field failing its pattern is refused in words with the rule it broke, never with the regular
// expression (issue 18: a bad key name showed `Expected string to match '^[A-Za-z0-9._-]+$'`).
import { describe, expect, test } from 'bun:test'
import { useTestServer } from '../../test/support/server.ts'
import { NAME_PATTERN, patternRule, USERNAME_PATTERN } from './patterns.ts'

const world = useTestServer()

type Refusal = { error: { message: string; type: string; field: string; rule: string } }

/** The error of a POST as admin that must be refused as invalid (400). */
async function refusal(path: string, json: unknown) {
  const res = await world.server.request(path, { method: 'POST', cookie: world.admin, json })
  expect(res.status).toBe(400)
  return ((await res.json()) as Refusal).error
}

describe('pattern refusals', () => {
  test('a key name with a space: the rule in words, naming the field', async () => {
    const error = await refusal('/api/remote/api-keys', {
      provider: 'openai',
      key_name: 'my key',
      api_key: 'sk-test-1234',
    })
    expect(error).toMatchObject({ type: 'validation_error', field: 'key_name', rule: 'name_chars' })
    expect(error.message).toBe('Invalid key_name: may contain only letters, digits, ".", "_" and "-"')
    expect(error.message).not.toContain('^')
  })

  test('a user name with a space: the same, with its own rule', async () => {
    const error = await refusal('/api/users', {
      username: 'two words',
      password: 'long-enough-1',
      role: 'user',
    })
    expect(error).toMatchObject({ field: 'username', rule: 'username_chars' })
    expect(error.message).not.toContain('Expected string to match')
  })

  test('every named pattern has words without regex syntax; an unknown one is "format"', () => {
    for (const pattern of [NAME_PATTERN, USERNAME_PATTERN])
      expect(patternRule(pattern).rule).not.toBe('format')
    expect(patternRule('^x+$')).toEqual({ rule: 'format', words: 'has an unexpected format' })
  })
})
