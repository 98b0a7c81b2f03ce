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
    }),
  ],
  server: { proxy: { '/api': DEV_API } },
})
