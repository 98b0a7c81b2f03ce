// The state every admin list page keeps: the rows, whether they are loading, and why the last
// load failed. reload() shows the spinner and keeps the failure for a retry; refresh() is the
// quiet re-fetch polling and after-action updates use, and throws so the caller chooses how to report.
import { errorMessage } from './toast.svelte.ts'

export interface Loader<T> {
  /** The rows; pages assign after their own changes (added, updated, deleted). */
  items: T[]
  readonly loading: boolean
  readonly error: string | null
  reload(): Promise<void>
  refresh(): Promise<void>
}

export interface LoaderOptions {
  /** More a reload fetches after the rows (polling does not); its failure fails the reload. */
  also?: () => Promise<void>
}

/** Starts loading at once, as a page does when it opens: call it during component setup. */
export function createLoader<T>(fetchItems: () => Promise<T[]>, options: LoaderOptions = {}): Loader<T> {
  let items: T[] = $state([])
  let loading = $state(true)
  let error: string | null = $state(null)

  async function refresh(): Promise<void> {
    items = await fetchItems()
    error = null
  }

  async function reload(): Promise<void> {
    loading = true
    error = null
    try {
      await refresh()
      await options.also?.()
    } catch (failure) {
      error = errorMessage(failure)
    } finally {
      loading = false
    }
  }

  reload()
  return {
    get items() {
      return items
    },
    set items(value) {
      items = value
    },
    get loading() {
      return loading
    },
    get error() {
      return error
    },
    reload,
    refresh,
  }
}
