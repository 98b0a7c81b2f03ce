// Applies the stored colour theme before the first paint, so a dark page never flashes light.
// A file, not an inline script: the page's CSP runs only scripts from this origin. After start
// src/lib/theme.svelte.ts owns the choice (the toggle, following the OS as it changes).
try {
  var choice = localStorage.getItem('openace.theme')
  var dark = choice === 'dark' || (choice !== 'light' && matchMedia('(prefers-color-scheme: dark)').matches)
  document.documentElement.dataset.theme = dark ? 'dark' : 'light'
} catch (_) {
  document.documentElement.dataset.theme = 'light'
}
