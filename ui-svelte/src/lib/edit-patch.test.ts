// The edit patch of permission prompts: each tool input shape the CLIs use becomes the patch of
// exactly that change; anything else is not taken for an edit.
import { describe, expect, test } from 'bun:test'
import { proposedEditPatch } from './edit-patch.ts'

const body = (patch: string) =>
  patch.split('\n').filter((l) => /^[-+ ]/.test(l) && !l.startsWith('---') && !l.startsWith('+++'))

describe('proposedEditPatch', () => {
  test('a replacement (Edit, replace): the old lines out, the new lines in', () => {
    const edit = proposedEditPatch({
      file_path: 'src/a.ts',
      old_string: 'x = 1\ny = 2',
      new_string: 'x = 1\ny = 3',
    })
    expect(edit?.path).toBe('src/a.ts')
    expect(edit?.whole).toBe(false)
    expect(body(edit!.patch)).toEqual([' x = 1', '-y = 2', '+y = 3'])
    expect(edit!.patch).toContain('--- src/a.ts')
  })

  test('several replacements (MultiEdit): one hunk each', () => {
    const edit = proposedEditPatch({
      file_path: 'b.py',
      edits: [
        { old_string: 'a', new_string: 'b' },
        { old_string: 'c', new_string: '' },
      ],
    })
    expect(body(edit!.patch)).toEqual(['-a', '+b', '-c'])
  })

  test('a whole new content (Write, write_file): every line added', () => {
    const edit = proposedEditPatch({ path: 'new.txt', content: 'one\ntwo\n' })
    expect(edit).toMatchObject({ path: 'new.txt', whole: true })
    expect(body(edit!.patch)).toEqual(['+one', '+two'])
  })

  test('inputs that are not a file edit', () => {
    expect(proposedEditPatch({ command: 'rm -rf build' })).toBeNull()
    expect(proposedEditPatch({ file_path: 'a', old_string: 'x' })).toBeNull()
    expect(proposedEditPatch({ file_path: 'a', edits: [{ old_string: 'x' }] })).toBeNull()
    expect(proposedEditPatch('rm -rf /')).toBeNull()
    expect(proposedEditPatch(null)).toBeNull()
  })
})
