import { describe, expect, test } from 'bun:test'
import { buildCliEnv } from './cli-env.ts'

describe('CLI environment', () => {
  const machine = {
    PATH: '/usr/bin',
    HOME: '/home/u',
    LANG: 'C.UTF-8',
    OPENAI_API_KEY: 'sk-real',
    OPENAI_BASE_URL: 'https://api.openai.com/v1',
    ANTHROPIC_API_KEY: 'sk-ant',
    ANTHROPIC_BASE_URL: 'https://api.anthropic.com',
    GEMINI_API_KEY: 'g',
    GOOGLE_APPLICATION_CREDENTIALS: '/k.json',
    DASHSCOPE_API_KEY: 'd',
    AWS_ACCESS_KEY_ID: 'AKIA',
    AWS_SECRET_ACCESS_KEY: 's',
    AZURE_OPENAI_KEY: 'a',
    GITHUB_TOKEN: 'ghp',
    GH_TOKEN: 'gh',
    GIT_ASKPASS: '/askpass',
    NPM_TOKEN: 'npm',
    MY_SERVICE_PASSWORD: 'pw',
    OPENACE_AGENT_TOKEN: 'agent-token',
    NODE_TLS_REJECT_UNAUTHORIZED: '0',
    QWEN_TLS_INSECURE: '1',
  }

  test('drops every credential, base URL and TLS switch, keeps the rest, adds the adapter variables', () => {
    const env = buildCliEnv(machine, {
      OPENAI_API_KEY: 'proxy-token',
      OPENAI_BASE_URL: 'http://server/api/remote/llm-proxy/v1',
    })
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/u',
      LANG: 'C.UTF-8',
      DO_NOT_TRACK: '1',
      OPENAI_API_KEY: 'proxy-token',
      OPENAI_BASE_URL: 'http://server/api/remote/llm-proxy/v1',
    })
  })

  test('session variables cannot switch TLS verification off', () => {
    const env = buildCliEnv({ PATH: '/bin' }, {}, { NODE_TLS_REJECT_UNAUTHORIZED: '0', FOO: 'bar' })
    expect(env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined()
    expect(env.FOO).toBe('bar')
  })
})
