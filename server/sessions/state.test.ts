import { describe, expect, test } from 'bun:test'
import { SESSION_STATUSES as SESSION_STATES } from '../db/schema/index.ts'
import { HttpError } from '../errors.ts'
import { nextState, SESSION_ACTIONS, transition } from './state.ts'

describe('session state machine', () => {
  test('the happy path: starting -> active <-> paused -> stopped', () => {
    expect(nextState('starting', 'started')).toBe('active')
    expect(nextState('active', 'pause')).toBe('paused')
    expect(nextState('paused', 'resume')).toBe('active')
    expect(nextState('paused', 'stop')).toBe('stopped')
    expect(nextState('active', 'failed')).toBe('error')
  })

  test('chat and abort keep the state; both are refused while paused', () => {
    expect(nextState('active', 'chat')).toBe('active')
    expect(nextState('starting', 'chat')).toBe('starting')
    expect(nextState('active', 'abort')).toBe('active')
    expect(nextState('paused', 'chat')).toBeUndefined()
    expect(nextState('paused', 'abort')).toBeUndefined()
  })

  test('nothing moves an ended session but continuing a stopped one', () => {
    for (const ended of ['stopped', 'error'] as const) {
      for (const action of SESSION_ACTIONS) {
        if (ended === 'stopped' && action === 'continue') continue
        expect(nextState(ended, action)).toBeUndefined()
      }
    }
  })

  test('a stopped session continues: stopped -> starting -> active; a live or failed one cannot', () => {
    expect(nextState('stopped', 'continue')).toBe('starting')
    expect(nextState('starting', 'started')).toBe('active')
    for (const from of ['starting', 'active', 'paused', 'error'] as const)
      expect(nextState(from, 'continue')).toBeUndefined()
    expect(() => transition('active', 'continue')).toThrow(/still running/)
  })

  test("the old process's exit, reported after the session was continued, does not end it", () => {
    expect(nextState('starting', 'exited')).toBeUndefined()
    expect(nextState('active', 'exited')).toBe('stopped')
    expect(nextState('paused', 'exited')).toBe('stopped')
  })

  test('every impossible move is a 409 naming the current state', () => {
    for (const from of SESSION_STATES) {
      for (const action of SESSION_ACTIONS) {
        if (nextState(from, action) !== undefined) continue
        try {
          transition(from, action)
          throw new Error(`expected ${from} --${action}--> to be refused`)
        } catch (e) {
          expect(e).toBeInstanceOf(HttpError)
          expect((e as HttpError).status).toBe(409)
          expect((e as HttpError).message).toContain(from)
        }
      }
    }
  })

  test('chat while paused says to resume first', () => {
    expect(() => transition('paused', 'chat')).toThrow(/resume it first/)
  })
})
