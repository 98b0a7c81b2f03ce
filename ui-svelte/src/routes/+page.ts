// `/` has no page of its own: the workspace is home.
import { redirect } from '@sveltejs/kit'

export function load() {
  redirect(307, '/workspace')
}
