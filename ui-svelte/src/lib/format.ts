// Dates, numbers and durations in the reader's language.
import { intlLocale, t } from './i18n/index.svelte.ts'

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return t('common.never')
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return date.toLocaleString(intlLocale(), { dateStyle: 'medium', timeStyle: 'short' })
}

const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
]

/** "3 minutes ago"; `now` is injectable so a ticking clock can refresh it. */
export function formatRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return t('common.never')
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000)
  if (!Number.isFinite(seconds)) return iso
  const format = new Intl.RelativeTimeFormat(intlLocale(), { numeric: 'auto' })
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'second') return format.format(Math.round(seconds / size), unit)
  }
  return iso
}

export function formatNumber(value: number | null | undefined): string {
  return value == null ? '—' : value.toLocaleString(intlLocale())
}

/** 12,345 -> "12.3K": for token counts in tight places. */
export function formatCompact(value: number): string {
  return new Intl.NumberFormat(intlLocale(), { notation: 'compact', maximumFractionDigits: 1 }).format(value)
}

/** Bytes as megabytes with one decimal at most ("12.5"), in the reader's locale. */
export function formatMegabytes(bytes: number): string {
  return new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 1 }).format(bytes / (1024 * 1024))
}

/** The server's notice that a session's oldest output was dropped at its limit, in the UI's language. */
export function droppedNotice(event: { dropped_bytes: number; limit_bytes: number }): string {
  return t('ws.outputDropped', {
    dropped: formatMegabytes(event.dropped_bytes),
    limit: formatMegabytes(event.limit_bytes),
  })
}

/** A cost in the price table's currency; small amounts keep four decimals; null (no price) is a dash. */
export function formatCost(value: number | null, currency: string): string {
  if (value === null) return '—'
  return new Intl.NumberFormat(intlLocale(), {
    style: 'currency',
    currency,
    minimumFractionDigits: 2,
    maximumFractionDigits: value < 1 ? 4 : 2,
  }).format(value)
}
