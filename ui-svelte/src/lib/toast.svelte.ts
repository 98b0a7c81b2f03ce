// Short-lived notices in the corner (saved, copied, failed). Errors stay longer than successes.
import { ApiError } from './api.ts'
import { type MessageKey, t } from './i18n/index.svelte.ts'

export type ToastKind = 'success' | 'error' | 'info'
export interface Toast {
  id: number
  kind: ToastKind
  message: string
}

const SUCCESS_MS = 3000
const ERROR_MS = 7000
let nextId = 1

export const toasts: Toast[] = $state([])

export function dismissToast(id: number): void {
  const index = toasts.findIndex((toast) => toast.id === id)
  if (index >= 0) toasts.splice(index, 1)
}

function push(kind: ToastKind, message: string): void {
  const id = nextId++
  toasts.push({ id, kind, message })
  setTimeout(() => dismissToast(id), kind === 'error' ? ERROR_MS : SUCCESS_MS)
}

/** A field refused for its format, in the UI's language (the rule and field the server named). */
function ruleMessage(error: ApiError): string | null {
  if (!error.rule) return null
  const rule = `validation.rule.${error.rule}` as MessageKey
  const name = (error.field ?? '').replace(/\.\d+$/, '')
  const fieldKey = `validation.field.${name}` as MessageKey
  const field = t(fieldKey) === fieldKey ? t('validation.field.other', { name }) : t(fieldKey)
  const sentence = t(rule, { field })
  return sentence === rule ? null : sentence
}

/** A person-readable sentence for any failure: the server's own message when it sent one. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError)
    return error.status === 0 ? t('common.networkError') : (ruleMessage(error) ?? error.message)
  return error instanceof Error ? error.message : String(error)
}

export const toast = {
  success: (message: string) => push('success', message),
  info: (message: string) => push('info', message),
  error: (error: unknown) => push('error', errorMessage(error)),
}
