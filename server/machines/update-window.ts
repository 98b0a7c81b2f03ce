// Update windows: 'HH:MM-HH:MM' in UTC, when automatic agent updates may go out. A window may
// wrap past midnight ('22:00-04:00'); equal ends mean the whole day. The config, the settings
// body and the policy share the one pattern (http/patterns.ts, which words its refusal).

import { UPDATE_WINDOW_PATTERN } from '../http/patterns.ts'

export { UPDATE_WINDOW_PATTERN }

const WINDOW = new RegExp(UPDATE_WINDOW_PATTERN)

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

/** Whether `at` falls in `window` (null: no window, always). */
export function inUpdateWindow(window: string | null | undefined, at: Date): boolean {
  if (!window) return true
  if (!WINDOW.test(window)) return false
  const [from, to] = window.split('-') as [string, string]
  const start = minutes(from)
  const end = minutes(to)
  const now = at.getUTCHours() * 60 + at.getUTCMinutes()
  if (start === end) return true
  return start < end ? now >= start && now < end : now >= start || now < end
}
