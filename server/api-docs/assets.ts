// What the documentation page is made of: its HTML, the script that starts Swagger UI on the
// spec (a file rather than inline, for the CSP), and Swagger UI's own bundle and stylesheet read
// from the installed swagger-ui-dist package once, on first request.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const ASSETS = '/api/docs/assets'

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Open ACE Remote Workspace API</title>
<link rel="stylesheet" href="${ASSETS}/swagger-ui.css">
</head>
<body style="margin: 0">
<div id="swagger-ui"></div>
<script src="${ASSETS}/swagger-ui-bundle.js"></script>
<script src="${ASSETS}/docs.js"></script>
</body>
</html>
`

// validatorUrl: null, or Swagger UI sends the spec to validator.swagger.io for a badge.
const START_SCRIPT = `window.ui = SwaggerUIBundle({
  url: '/api/docs/json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  withCredentials: true,
})
`

interface DocsAsset {
  type: string
  /** The file in swagger-ui-dist, or the text itself for the page's own files. */
  source: { packageFile: string } | { text: string }
}

export const DOCS_ASSETS: Record<string, DocsAsset | undefined> = {
  'swagger-ui-bundle.js': {
    type: 'text/javascript; charset=utf-8',
    source: { packageFile: 'swagger-ui-dist/swagger-ui-bundle.js' },
  },
  'swagger-ui.css': {
    type: 'text/css; charset=utf-8',
    source: { packageFile: 'swagger-ui-dist/swagger-ui.css' },
  },
  'docs.js': { type: 'text/javascript; charset=utf-8', source: { text: START_SCRIPT } },
}

const loaded = new Map<string, Promise<string>>()

/** The body of a known asset (DOCS_ASSETS), read from the package the first time. */
export function readDocsAsset(name: string): Promise<string> {
  const asset = DOCS_ASSETS[name]
  if (!asset) throw new Error(`unknown documentation asset ${name}`)
  let body = loaded.get(name)
  if (!body) {
    const { source } = asset
    body =
      'text' in source
        ? Promise.resolve(source.text)
        : readFile(fileURLToPath(import.meta.resolve(source.packageFile)), 'utf8').catch((cause) => {
            loaded.delete(name)
            throw new Error(`read ${source.packageFile}`, { cause })
          })
    loaded.set(name, body)
  }
  return body
}
