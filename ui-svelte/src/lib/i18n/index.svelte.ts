// The UI language: zh or en, first from the browser (navigator.languages), then the user's
// choice, remembered in localStorage. `t(key, params)` reads the current locale reactively.
import * as admin from './admin.ts'
import * as apiKeys from './api-keys.ts'
import * as auditEvents from './audit-events.ts'
import * as core from './core.ts'
import * as firstRun from './first-run.ts'
import * as machinePage from './machine-page.ts'
import * as machines from './machines.ts'
import * as session from './session.ts'
import * as signIn from './sign-in.ts'
import * as tenants from './tenants.ts'
import * as terminal from './terminal.ts'
import * as tokens from './tokens.ts'
import * as updates from './updates.ts'
import * as usage from './usage.ts'
import * as validation from './validation.ts'
import * as workspace from './workspace.ts'

export const LOCALES = ['en', 'zh'] as const
export type Locale = (typeof LOCALES)[number]
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', zh: '中文' }
const STORAGE_KEY = 'openace.locale'

const messages = {
  en: {
    ...core.en,
    ...machines.en,
    ...machinePage.en,
    ...admin.en,
    ...workspace.en,
    ...session.en,
    ...tokens.en,
    ...tenants.en,
    ...terminal.en,
    ...updates.en,
    ...signIn.en,
    ...validation.en,
    ...apiKeys.en,
    ...auditEvents.en,
    ...firstRun.en,
    ...usage.en,
  },
  zh: {
    ...core.zh,
    ...machines.zh,
    ...machinePage.zh,
    ...admin.zh,
    ...workspace.zh,
    ...session.zh,
    ...tokens.zh,
    ...tenants.zh,
    ...terminal.zh,
    ...updates.zh,
    ...signIn.zh,
    ...validation.zh,
    ...apiKeys.zh,
    ...auditEvents.zh,
    ...firstRun.zh,
    ...usage.zh,
  },
}
export type MessageKey = keyof (typeof messages)['en']

function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value)
}

/** The stored choice, else the first browser language we speak, else English. */
export function detectLocale(stored: string | null, browser: readonly string[]): Locale {
  if (isLocale(stored)) return stored
  for (const tag of browser) {
    const base = tag.toLowerCase().split('-')[0]
    if (isLocale(base)) return base
  }
  return 'en'
}

const state = $state({
  locale: detectLocale(
    typeof localStorage === 'undefined' ? null : localStorage.getItem(STORAGE_KEY),
    typeof navigator === 'undefined' ? [] : navigator.languages,
  ),
})

export function currentLocale(): Locale {
  return state.locale
}

export function setLocale(locale: Locale): void {
  state.locale = locale
  localStorage.setItem(STORAGE_KEY, locale)
  document.documentElement.lang = locale === 'zh' ? 'zh-CN' : 'en'
}

export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  // A key built at run time (a status word the server added later) may be unknown: show the key.
  const template: string = messages[state.locale][key] ?? messages.en[key] ?? key
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  )
}

/** BCP 47 tag for Intl formatting in the current language. */
export function intlLocale(): string {
  return state.locale === 'zh' ? 'zh-CN' : 'en-US'
}
