// Assistant text as Markdown, made safe to put in the page: raw HTML in the text is shown as
// text, and links/images keep only http(s), mailto and relative targets (no javascript:).
import { Marked, type Tokens } from 'marked'

const SAFE_URL = /^(https?:|mailto:|\/|#|\.)/i

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
    link({ href, title, tokens }: Tokens.Link) {
      const label = this.parser.parseInline(tokens)
      if (!SAFE_URL.test(href)) return label
      const titleAttr = title ? ` title="${escapeHtml(title)}"` : ''
      return `<a href="${escapeHtml(href)}"${titleAttr} target="_blank" rel="noopener noreferrer">${label}</a>`
    },
    image({ href, text }: Tokens.Image) {
      if (!SAFE_URL.test(href)) return escapeHtml(text)
      return `<img src="${escapeHtml(href)}" alt="${escapeHtml(text)}" loading="lazy" />`
    },
  },
})

export function renderMarkdown(text: string): string {
  return marked.parse(text) as string
}
