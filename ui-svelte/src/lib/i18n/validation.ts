// A field the server refused for its format, in words (the error's `rule`, server/http/patterns.ts),
// and the names of the fields such refusals name (en, and zh with the same keys).
export const en = {
  'validation.rule.name_chars': '{field} may contain only letters, digits, ".", "_" and "-" (no spaces).',
  'validation.rule.username_chars':
    '{field} may contain only letters, digits, ".", "_", "@" and "-" (no spaces).',
  'validation.rule.no_nul': '{field} must not contain a NUL character.',
  'validation.rule.not_blank': '{field} must not be blank.',
  'validation.rule.update_window': '{field} must be a UTC window like 22:00-04:00.',
  'validation.rule.id_chars':
    '{field} must start with a letter or digit, then letters, digits, ".", "_", ":" or "-".',
  'validation.rule.timestamp': '{field} must be an ISO-8601 UTC time ending in Z.',
  'validation.rule.format': '{field} has an unexpected format.',
  'validation.field.key_name': 'The key name',
  'validation.field.username': 'The user name',
  'validation.field.name': 'The name',
  'validation.field.cli_tool': 'The CLI tool',
  'validation.field.allowed_cli_tools': 'Each allowed CLI',
  'validation.field.update_window': 'The update window',
  'validation.field.path': 'The path',
  'validation.field.other': 'The field "{name}"',
}

export const zh: Record<keyof typeof en, string> = {
  'validation.rule.name_chars': '{field}只能包含字母、数字、"."、"_" 和 "-"(不能有空格)。',
  'validation.rule.username_chars': '{field}只能包含字母、数字、"."、"_"、"@" 和 "-"(不能有空格)。',
  'validation.rule.no_nul': '{field}不能包含 NUL 字符。',
  'validation.rule.not_blank': '{field}不能为空白。',
  'validation.rule.update_window': '{field}必须是 UTC 时间段,例如 22:00-04:00。',
  'validation.rule.id_chars': '{field}必须以字母或数字开头,其后只能是字母、数字、"."、"_"、":" 或 "-"。',
  'validation.rule.timestamp': '{field}必须是以 Z 结尾的 ISO-8601 UTC 时间。',
  'validation.rule.format': '{field}格式不正确。',
  'validation.field.key_name': '密钥名称',
  'validation.field.username': '用户名',
  'validation.field.name': '名称',
  'validation.field.cli_tool': 'CLI 工具',
  'validation.field.allowed_cli_tools': '每个允许的 CLI',
  'validation.field.update_window': '更新时间段',
  'validation.field.path': '路径',
  'validation.field.other': '字段 "{name}"',
}
