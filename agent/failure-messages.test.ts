import { describe, expect, test } from 'bun:test'
import { qwenAdapter } from './adapters/qwen.ts'
import { projectPathProblem, spawnProblem } from './failure-messages.ts'

describe('failure messages for a person', () => {
  test('a CLI missing from PATH is "not installed", with the command that installs it', () => {
    let error: Error | undefined
    try {
      Bun.spawn(['openace-no-such-cli-for-test'])
    } catch (e) {
      error = e as Error
    }
    const problem = spawnProblem(qwenAdapter, error!)
    expect(problem.code).toBe('cli_not_installed')
    expect(problem.message).toBe(
      "qwen-code is not installed on this machine (no 'qwen' on the agent's PATH). Install it with: npm install -g @qwen-code/qwen-code@latest",
    )
  })

  test('path problems name the folder and what is wrong with it', () => {
    expect(projectPathProblem('/nope', new Error('No such directory: /nope'), ['/home/a'])).toBe(
      'The folder /nope does not exist on this machine',
    )
    expect(
      projectPathProblem('/etc', new Error('Access denied: /etc is outside the allowed directories'), [
        '/home/a',
      ]),
    ).toBe('/etc is outside the folders sessions may use on this machine (/home/a)')
  })
})
