import { beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import * as fs from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listDirectory } from './fs-list.ts'

let base: string
let root: string
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'oa-fs-'))
  root = join(base, 'root')
  mkdirSync(join(root, 'project/src'), { recursive: true })
  writeFileSync(join(root, 'project/README.md'), 'hello')
  mkdirSync(join(base, 'outside'))
  writeFileSync(join(base, 'outside/secret.txt'), 'nope')
  symlinkSync(join(base, 'outside'), join(root, 'escape'))
  symlinkSync(join(root, 'project'), join(root, 'inside-link'))
})

describe('fs.list', () => {
  test('lists one level with type, size and mtime, directories first', async () => {
    const { entries } = await listDirectory(fs, join(root, 'project'), [root])
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['src', 'dir'],
      ['README.md', 'file'],
    ])
    expect(entries[1]?.size).toBe(5)
    expect(entries[1]?.modified_at).toMatch(/Z$/)
    const top = await listDirectory(fs, root, [root])
    expect(top.entries.find((e) => e.name === 'escape')?.type).toBe('symlink')
  })

  test('../ cannot leave the roots', async () => {
    await expect(listDirectory(fs, join(root, 'project/../../outside'), [root])).rejects.toThrow(
      /outside the allowed/,
    )
    await expect(listDirectory(fs, '/etc', [root])).rejects.toThrow(/outside the allowed/)
  })

  test('a symlink pointing outside a root is refused; one pointing inside is followed', async () => {
    await expect(listDirectory(fs, join(root, 'escape'), [root])).rejects.toThrow(/outside the allowed/)
    const inside = await listDirectory(fs, join(root, 'inside-link'), [root])
    expect(inside.path).toBe(await fs.realpath(join(root, 'project')))
  })

  test('clear errors for a missing path, a file and a relative path', async () => {
    await expect(listDirectory(fs, join(root, 'missing'), [root])).rejects.toThrow(/No such directory/)
    await expect(listDirectory(fs, join(root, 'project/README.md'), [root])).rejects.toThrow(
      /Not a directory/,
    )
    await expect(listDirectory(fs, 'project', [root])).rejects.toThrow(/must be absolute/)
  })

  test('outside the roots, a missing path and an existing one get the same answer', async () => {
    const missing = listDirectory(fs, join(base, 'outside/no-such-dir'), [root]).catch(
      (e: Error) => e.message,
    )
    const existing = listDirectory(fs, join(base, 'outside'), [root]).catch((e: Error) => e.message)
    const [a, b] = await Promise.all([missing, existing])
    expect(a).toMatch(/outside the allowed/)
    expect(b).toMatch(/outside the allowed/)
    expect(await listDirectory(fs, '/no/such/place', [root]).catch((e: Error) => e.message)).toMatch(
      /outside the allowed/,
    )
    // Through a link inside the root that points outside, a missing target says nothing either.
    expect(
      await listDirectory(fs, join(root, 'escape/no-such-dir'), [root]).catch((e: Error) => e.message),
    ).toMatch(/outside the allowed/)
  })
})
