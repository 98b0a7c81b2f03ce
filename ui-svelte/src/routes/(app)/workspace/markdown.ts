// Assistant text as Markdown, made safe to put in the page. Model output is attacker-controlled
// (a prompt injection can make it say anything), so: raw HTML in the text is shown as text,
// marked's HTML goes through DOMPurify (a maintained sanitizer, not our own rules), links open
// in a new tab without a referrer, and an image is only loaded from this server or a data: URL.
// A remote image becomes a link the user may click: loading it would send whatever the model
// put in its URL to that host (the page's CSP blocks it too; this keeps the UI honest about it).
// Code blocks are highlighted by highlight.js (classes only, no inline styles or scripts, so the
// strict CSP holds) and carry a copy button the conversation handles by delegation.
import DOMPurify from 'dompurify'
import hljs from 'highlight.js/lib/common'
import 'highlight.js/styles/github-dark.css'
import { Marked, type Tokens } from 'marked'
import { t } from '#lib/i18n/index.svelte.ts'

/** The attribute of a code block's copy button; the conversation listens for clicks on it. */
export const COPY_CODE_ATTRIBUTE = 'data-copy-code'
/** Blocks longer than this are not guessed at (auto-detection runs every grammar). */
const MAX_AUTO_DETECT_CHARS = 4000

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(text)
    },
    code({ text, lang }: Tokens.Code) {
      return `<div class="code-block"><button type="button" class="copy-code" ${COPY_CODE_ATTRIBUTE}="">${escapeHtml(t('common.copy'))}</button><pre><code class="hljs">${highlight(text, lang)}</code></pre></div>`
    },
  },
})

/** highlight.js's HTML for a code block: the named language, else a guess for short blocks. */
function highlight(code: string, lang: string | undefined): string {
  const language = lang?.trim().split(/\s+/)[0]?.toLowerCase()
  try {
    if (language && hljs.getLanguage(language)) return hljs.highlight(code, { language }).value
    if (!language && code.length <= MAX_AUTO_DETECT_CHARS) return hljs.highlightAuto(code).value
  } catch {}
  return escapeHtml(code)
}

/** Whether an image URL would be fetched from somewhere other than this page's own server. */
function isRemoteImage(src: string): boolean {
  try {
    const url = new URL(src, document.baseURI)
    return url.protocol !== 'data:' && url.origin !== window.location.origin
  } catch {
    return true
  }
}

/** A remote image as a link showing its alt text (or its address). */
function imageAsLink(img: HTMLImageElement): HTMLAnchorElement {
  const link = img.ownerDocument.createElement('a')
  const src = img.getAttribute('src') ?? ''
  link.href = src
  link.textContent = img.getAttribute('alt') || src
  link.title = src
  link.className = 'remote-image'
  return link
}

function openLinksSafely(root: DocumentFragment): void {
  for (const a of root.querySelectorAll('a[href]')) {
    a.setAttribute('target', '_blank')
    a.setAttribute('rel', 'noopener noreferrer')
  }
}

export function renderMarkdown(text: string): string {
  const html = marked.parse(text) as string
  // The fragment lives in DOMPurify's inert document: nothing in it loads, and it is serialized
  // there too (moving it into this page's document would already start fetching its images).
  const fragment = DOMPurify.sanitize(html, { RETURN_DOM_FRAGMENT: true })
  for (const img of fragment.querySelectorAll('img')) {
    const src = img.getAttribute('src')
    if (!src) img.remove()
    else if (isRemoteImage(src)) img.replaceWith(imageAsLink(img))
    else img.setAttribute('loading', 'lazy')
  }
  openLinksSafely(fragment)
  const holder = fragment.ownerDocument.createElement('div')
  holder.append(fragment)
  return holder.innerHTML
}
