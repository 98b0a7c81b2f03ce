// The colour theme: light, dark, or following the OS (`prefers-color-scheme`), the choice kept
// in localStorage. The resolved theme is the `data-theme` attribute on <html>, which app.css's
// dark palette keys on; static/theme.js sets it before the first paint, this module after.
export const THEME_CHOICES = ['system', 'light', 'dark'] as const
export type ThemeChoice = (typeof THEME_CHOICES)[number]
export type Theme = 'light' | 'dark'
const STORAGE_KEY = 'openace.theme'
const DARK_QUERY = '(prefers-color-scheme: dark)'

function isChoice(value: unknown): value is ThemeChoice {
  return typeof value === 'string' && (THEME_CHOICES as readonly string[]).includes(value)
}

/** The theme a choice shows, given whether the OS asks for dark. */
export function resolveTheme(choice: ThemeChoice, osDark: boolean): Theme {
  if (choice === 'system') return osDark ? 'dark' : 'light'
  return choice
}

const hasWindow = typeof window !== 'undefined'
const stored = hasWindow ? localStorage.getItem(STORAGE_KEY) : null
const media = hasWindow ? window.matchMedia(DARK_QUERY) : null
const state = $state({ choice: isChoice(stored) ? stored : 'system', osDark: media?.matches ?? false })

function apply(): void {
  if (hasWindow) document.documentElement.dataset.theme = resolveTheme(state.choice, state.osDark)
}

media?.addEventListener('change', (event) => {
  state.osDark = event.matches
  apply()
})

export function themeChoice(): ThemeChoice {
  return state.choice
}

/** The theme on screen now (reactive): for what CSS cannot reach, like canvas charts and diff2html. */
export function currentTheme(): Theme {
  return resolveTheme(state.choice, state.osDark)
}

export function setThemeChoice(choice: ThemeChoice): void {
  state.choice = choice
  if (choice === 'system') localStorage.removeItem(STORAGE_KEY)
  else localStorage.setItem(STORAGE_KEY, choice)
  apply()
}
