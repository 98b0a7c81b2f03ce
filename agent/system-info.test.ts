// The CLI tools cache (a restarted agent says hello with the last probe's answer at once) and the load a heartbeat reports.
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitUntil } from '../test/support/wait-until.ts'
import {
  CLI_TOOLS_CACHE_FILE,
  collectSystemInfo,
  readCachedCliTools,
  writeCachedCliTools,
} from './system-info.ts'

describe('CLI tools cache', () => {
  test('what one run found, the next reads back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-cli-cache-'))
    expect(readCachedCliTools(dir)).toBeUndefined()
    const tools = [
      { name: 'gemini', path: '/usr/bin/gemini', version: '0.61.0' },
      { name: 'qwen-code', path: '/usr/bin/qwen' },
    ]
    writeCachedCliTools(dir, tools)
    expect(readCachedCliTools(dir)).toEqual(tools)
    writeCachedCliTools(dir, [])
    expect(readCachedCliTools(dir)).toEqual([])
  })

  test('a damaged file counts as no cache, and entries without name or path are dropped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-cli-cache-'))
    writeFileSync(join(dir, CLI_TOOLS_CACHE_FILE), '{not json')
    expect(readCachedCliTools(dir)).toBeUndefined()
    writeFileSync(join(dir, CLI_TOOLS_CACHE_FILE), '{"name":"x"}')
    expect(readCachedCliTools(dir)).toBeUndefined()
    writeFileSync(join(dir, CLI_TOOLS_CACHE_FILE), '[{"name":"codex","path":"/bin/codex"},{"name":"bad"},7]')
    expect(readCachedCliTools(dir)).toEqual([{ name: 'codex', path: '/bin/codex' }])
  })
})

describe('load in system_info', () => {
  test('CPU busy since the last report, memory and the work dir disk (free and total)', async () => {
    collectSystemInfo(tmpdir(), [])
    // The CPU clock ticks in milliseconds: reports within one tick have no share to give.
    const info = await waitUntil(
      () => {
        const next = collectSystemInfo(tmpdir(), [])
        return next.cpu_percent !== undefined && next
      },
      { what: 'a report with cpu_percent' },
    )
    expect(info.cpu_percent).toBeNumber()
    expect(info.cpu_percent as number).toBeGreaterThanOrEqual(0)
    expect(info.cpu_percent as number).toBeLessThanOrEqual(100)
    expect(info.disk_total_gb as number).toBeGreaterThan(0)
    expect(info.disk_free_gb as number).toBeLessThanOrEqual(info.disk_total_gb as number)
    expect(info.memory_free_gb as number).toBeLessThanOrEqual(info.memory_gb as number)
  })
})
