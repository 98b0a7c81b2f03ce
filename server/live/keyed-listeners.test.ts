import { describe, expect, test } from 'bun:test'
import { KeyedListeners } from './keyed-listeners.ts'

describe('KeyedListeners', () => {
  test('a key calls only its own listeners, with the arguments given', () => {
    const listeners = new KeyedListeners<[n: number]>()
    const heard: string[] = []
    listeners.add('a', (n) => heard.push(`a1:${n}`))
    listeners.add('a', (n) => heard.push(`a2:${n}`))
    listeners.add('b', (n) => heard.push(`b:${n}`))
    listeners.emit('a', 7)
    expect(heard).toEqual(['a1:7', 'a2:7'])
  })

  test('removing the last listener of a key drops the key', () => {
    const listeners = new KeyedListeners<[]>()
    const first = listeners.add('a', () => {})
    const second = listeners.add('a', () => {})
    first()
    expect(listeners.has('a')).toBe(true)
    second()
    expect(listeners.has('a')).toBe(false)
    // A stale remove after the key came back leaves the new listeners alone.
    let called = 0
    listeners.add('a', () => called++)
    second()
    listeners.emit('a')
    expect(called).toBe(1)
  })

  test('a listener that removes itself while called does not stop the others', () => {
    const listeners = new KeyedListeners<[]>()
    const heard: number[] = []
    const remove = listeners.add('a', () => {
      heard.push(1)
      remove()
    })
    listeners.add('a', () => heard.push(2))
    listeners.emit('a')
    listeners.emit('a')
    expect(heard).toEqual([1, 2, 2])
  })
})
