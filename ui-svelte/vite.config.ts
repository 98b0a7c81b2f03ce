// Vite + SvelteKit build of the browser UI: a static single-page app (no SSR) that the server
// serves from ui-svelte/build with index.html as the fallback for client-side routes.
import adapter from '@sveltejs/adapter-static'
import { sveltekit } from '@sveltejs/kit/vite'
import { defineConfig } from 'vite'

// The API server `bun run dev` starts; `vite dev` proxies /api there so cookies stay same-origin.
const DEV_API = process.env.OPENACE_DEV_API ?? 'http://127.0.0.1:5000'

export default defineConfig({
  plugins: [
    sveltekit({
      adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
      compilerOptions: { runes: true },
      // SvelteKit hashes its own inline bootstrap script into this policy (a <meta> in the built
      // index.html, which the server also sends as a header). No other inline script runs, and
      // images load only from here or data: URLs, so model output cannot make the page call out.
      csp: {
        mode: 'hash',
        directives: {
          'default-src': ['self'],
          'script-src': ['self'],
          'style-src': ['self', 'unsafe-inline'],
          'img-src': ['self', 'data:'],
          'font-src': ['self', 'data:'],
          'connect-src': ['self'],
          'object-src': ['none'],
          'base-uri': ['self'],
          'form-action': ['self'],
        },
      },
    }),
  ],
  server: { proxy: { '/api': DEV_API } },
})
