// Every page inside the app shell needs a logged-in user; others go to /login and come back.
import { redirect } from '@sveltejs/kit'
import { auth } from '#lib/api.ts'
import { currentUser } from '#lib/session.svelte.ts'
import type { LayoutLoad } from './$types'

export const load: LayoutLoad = async ({ url }) => {
  const user = await auth.me()
  if (!user) redirect(307, `/login?next=${encodeURIComponent(url.pathname + url.search)}`)
  currentUser.user = user
  return { user }
}
