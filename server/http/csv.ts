// CSV downloads (the audit trail, usage): csv-stringify does the quoting (commas, quotes, line
// breaks, a leading formula character), a UTF-8 BOM lets spreadsheet programs read Chinese, and
// Content-Disposition names the file. Built once per request: exports are bounded by their routes.
import { stringify } from 'csv-stringify/sync'

export type CsvValue = string | number | boolean | null | undefined

export function csvResponse(filename: string, header: string[], rows: CsvValue[][]): Response {
  const text = stringify([header, ...rows.map((row) => row.map((v) => (v == null ? '' : v)))], {
    bom: true,
    escape_formulas: true,
    record_delimiter: 'windows',
  })
  return new Response(text, {
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${filename.replace(/[^\w.-]/g, '_')}"`,
      'cache-control': 'no-store',
    },
  })
}

/** `YYYY-MM-DD` of a date in UTC, for file names. */
export const csvDate = (at: Date) => at.toISOString().slice(0, 10)
