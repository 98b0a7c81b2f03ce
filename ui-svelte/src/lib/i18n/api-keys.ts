// UI strings of the API keys page's test, edit and models parts (en, and zh with the same keys).
export const en = {
  'keys.test': 'Test',
  'keys.testing': 'Testing…',
  'keys.testOk': 'Works: {count} models ({ms} ms)',
  'keys.testFailed': 'Failed:',
  'keys.edit': 'Edit',
  'keys.editTitle': 'Edit key {name}',
  'keys.saved': 'Key {name} saved',
  'keys.enabledLabel': 'Enabled (the proxy uses this key)',
  'keys.models': 'Models',
  'keys.modelCount': '{count} models',
}

export const zh: Record<keyof typeof en, string> = {
  'keys.test': '测试',
  'keys.testing': '测试中…',
  'keys.testOk': '可用:{count} 个模型({ms} 毫秒)',
  'keys.testFailed': '失败:',
  'keys.edit': '编辑',
  'keys.editTitle': '编辑密钥 {name}',
  'keys.saved': '已保存密钥 {name}',
  'keys.enabledLabel': '启用(代理会使用此密钥)',
  'keys.models': '模型',
  'keys.modelCount': '{count} 个模型',
}
