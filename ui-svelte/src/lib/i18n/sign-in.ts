// UI strings of single sign-on on the login page: the provider's button, the break-glass link,
// and one sentence per refusal code the server's OIDC callback sends (/login?error=<code>).
export const en = {
  'login.oidc': 'Sign in with {name}',
  'login.or': 'or',
  'login.breakGlass': 'Administrator sign-in',
  'login.passwordOff': 'Password sign-in is turned off on this server; use {name}.',
  'login.error.oidc_state_invalid':
    'This sign-in link has expired or was already used. Please sign in again.',
  'login.error.oidc_code_invalid':
    'The sign-in at your identity provider expired or was already used. Please sign in again.',
  'login.error.oidc_token_invalid':
    'The answer from your identity provider could not be verified for this application. Please sign in again; if it keeps happening, tell your administrator.',
  'login.error.oidc_denied': 'Sign-in was cancelled at your identity provider.',
  'login.error.oidc_provider_error':
    'Your identity provider refused the sign-in. Try again, or ask your administrator.',
  'login.error.oidc_unavailable': 'Your identity provider could not be reached. Try again in a moment.',
  'login.error.oidc_email_unverified':
    'Your identity provider has not verified your e-mail address, so you cannot sign in here yet.',
  'login.error.oidc_domain_not_allowed': 'Accounts with your e-mail domain are not allowed to sign in here.',
  'login.error.oidc_group_required': 'Your account is not in the group that may sign in here.',
  'login.error.oidc_tenant_unknown':
    'Your organisation is not set up on this server. Ask your administrator to add it.',
  'login.error.oidc_account_disabled': 'Your account is disabled. Ask your administrator.',
  'login.error.unknown': 'Sign-in failed. Please try again.',
}

export const zh: Record<keyof typeof en, string> = {
  'login.oidc': '使用 {name} 登录',
  'login.or': '或',
  'login.breakGlass': '管理员登录',
  'login.passwordOff': '此服务器已关闭密码登录,请使用 {name}。',
  'login.error.oidc_state_invalid': '此登录链接已过期或已被使用,请重新登录。',
  'login.error.oidc_code_invalid': '在身份提供方的登录已过期或已被使用,请重新登录。',
  'login.error.oidc_token_invalid':
    '无法验证身份提供方的应答是否签发给本应用。请重新登录;如果反复出现,请联系管理员。',
  'login.error.oidc_denied': '已在身份提供方取消登录。',
  'login.error.oidc_provider_error': '身份提供方拒绝了此次登录。请重试,或联系管理员。',
  'login.error.oidc_unavailable': '无法连接身份提供方,请稍后重试。',
  'login.error.oidc_email_unverified': '身份提供方尚未验证你的电子邮件地址,暂时无法在此登录。',
  'login.error.oidc_domain_not_allowed': '你的电子邮件域名不允许登录此服务器。',
  'login.error.oidc_group_required': '你的账户不在允许登录此服务器的用户组中。',
  'login.error.oidc_tenant_unknown': '此服务器上尚未设置你所在的组织,请联系管理员添加。',
  'login.error.oidc_account_disabled': '你的账户已被停用,请联系管理员。',
  'login.error.unknown': '登录失败,请重试。',
}
